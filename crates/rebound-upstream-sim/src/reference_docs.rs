//! The reference pipeline's PDFs: NBA.com's official injury report and
//! game books, made here as real (if small) PDF documents laid out like
//! the originals, so a parser that reads the real report reads these.
//!
//! **Injury report** (`/ref/nba_official/referee/injury/…`). NBA.com
//! publishes it every hour; the URL names the report's time. Until
//! 2025-12-22 the name was `Injury-Report_<YYYY-MM-DD>_<hh><AM|PM>.pdf`;
//! from 2025-12-23 it is `Injury-Report_<YYYY-MM-DD>_<hh>_<mm><AM|PM>.pdf`
//! (minutes 00, 15, 30 or 45). Like the real host, each date answers only
//! the name form in use on it; the other gets the S3-style 403 the real CDN
//! gives for a key that does not exist. The page is landscape with the
//! columns Game Date, Game Time, Matchup, Team, Player Name, Current Status
//! and Reason, each word placed with its own `Td` as in the real file;
//! date, time and matchup are written on a game's first row only, the team
//! on its first row, and a reason longer than [`REASON_WRAP`] characters is
//! wrapped on two lines, one above and one below the row's baseline (how
//! the real report centres a two-line cell). 20 rows per page.
//!
//! **Game book** (`/ref/nba_statsdmz/pdfs/<YYYYMMDD>/<YYYYMMDD>_<AWY><HOM>.pdf`,
//! the "game code" `YYYYMMDD/AWYHOM` of the schedule): a one-page PDF with
//! the matchup and each player's points; 404 for a code that is not a game
//! of that date.

use crate::fixtures::{Game, games_on, injuries_on, parse_date};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};

/// The first date with minutes in the injury report's file name.
pub const INJURY_MINUTES_FROM: (i32, u32, u32) = (2025, 12, 23);

/// A reason longer than this is wrapped on two lines.
pub const REASON_WRAP: usize = 30;

/// Rows per page of the injury report.
const ROWS_PER_PAGE: usize = 20;

/// Left edges of the report's columns (points), as in the real report.
const COLUMNS: [f32; 7] = [23.0, 119.0, 200.0, 264.0, 425.0, 586.0, 666.0];
const HEADERS: [&str; 7] = [
    "Game Date",
    "Game Time",
    "Matchup",
    "Team",
    "Player Name",
    "Current Status",
    "Reason",
];

/// Text placed at (x, y) on a page, in PDF user space (origin bottom left).
struct Placed {
    x: f32,
    y: f32,
    size: u8,
    text: String,
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('(', "\\(")
        .replace(')', "\\)")
}

/// Each word of `text` in its own `Td … Tj`, like the real report: the
/// first at (x, y), the next ones after an approximate word width.
fn words(out: &mut String, p: &Placed) {
    out.push_str(&format!("BT /F1 {} Tf {:.2} {:.2} Td", p.size, p.x, p.y));
    let mut previous = 0usize;
    for (n, word) in p.text.split(' ').filter(|w| !w.is_empty()).enumerate() {
        if n > 0 {
            // Helvetica averages about half an em per character.
            let advance = (previous + 1) as f32 * f32::from(p.size) * 0.5;
            out.push_str(&format!(" {advance:.2} 0 Td"));
        }
        out.push_str(&format!(" ({}) Tj", escape(word)));
        previous = word.chars().count();
    }
    out.push_str(" ET\n");
}

/// A PDF with one landscape page (842 × 595) per entry of `pages`: header,
/// page tree, one content stream and the font per page, cross-reference
/// table with exact offsets, trailer.
fn pdf(pages: &[Vec<Placed>]) -> Vec<u8> {
    let count = pages.len();
    // Objects: 1 catalog, 2 pages, 3 font, then per page: page, contents.
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {count} >>",
            (0..count)
                .map(|k| format!("{} 0 R", 4 + 2 * k))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_string(),
    ];
    for (k, page) in pages.iter().enumerate() {
        let mut content = String::new();
        for placed in page {
            words(&mut content, placed);
        }
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 842 595] /Contents {} 0 R \
             /Resources << /Font << /F1 3 0 R >> >> >>",
            5 + 2 * k
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}endstream",
            content.len()
        ));
    }
    crate::documents::assemble_pdf(&objects)
}

fn pdf_response(body: Vec<u8>) -> Response {
    ([(CONTENT_TYPE, "application/pdf")], body).into_response()
}

/// What the real CDN answers for a key it does not have.
fn access_denied() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(CONTENT_TYPE, "application/xml")],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
         <Message>Access Denied</Message></Error>",
    )
        .into_response()
}

fn minutes_from() -> NaiveDate {
    let (y, m, d) = INJURY_MINUTES_FROM;
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

/// The date and report time in an injury report's file name, if it is in
/// the form used on that date.
pub fn parse_injury_file(file: &str) -> Option<(NaiveDate, NaiveTime)> {
    let rest = file.strip_prefix("Injury-Report_")?.strip_suffix(".pdf")?;
    let (date, time) = rest.split_once('_')?;
    let date = parse_date(date)?;
    let (clock, pm) = match (time.strip_suffix("AM"), time.strip_suffix("PM")) {
        (Some(clock), _) => (clock, false),
        (_, Some(clock)) => (clock, true),
        _ => return None,
    };
    let (hour, minute) = match clock.split_once('_') {
        Some((h, m)) if date >= minutes_from() => (h, m),
        None if date < minutes_from() => (clock, "00"),
        _ => return None,
    };
    if hour.len() != 2 || minute.len() != 2 {
        return None;
    }
    let hour: u32 = hour.parse().ok().filter(|h| (1..=12).contains(h))?;
    let minute: u32 = minute.parse().ok().filter(|m| m % 15 == 0 && *m < 60)?;
    let hour24 = hour % 12 + if pm { 12 } else { 0 };
    Some((date, NaiveTime::from_hms_opt(hour24, minute, 0)?))
}

/// `07:30 (ET)`: the sim's games tip at 19:00 Eastern plus half an hour
/// per game (the fixtures' rule; DST is not modelled here).
fn game_time(game: &Game) -> String {
    let minutes = 19 * 60 + 30 * game.index as u32;
    let (h, m) = (minutes / 60, minutes % 60);
    format!("{:02}:{m:02} (ET)", (h + 11) % 12 + 1)
}

/// The injury report of `date` as of `time`, laid out like NBA.com's.
pub fn injury_report_pdf(date: NaiveDate, time: NaiveTime) -> Vec<u8> {
    let (pm, hour12) = time.hour12();
    let title = format!(
        "Injury Report: {:02}/{:02}/{:02} {hour12:02}:{:02} {}",
        date.month(),
        date.day(),
        date.year() % 100,
        time.minute(),
        if pm { "PM" } else { "AM" }
    );
    let injuries = injuries_on(date);
    let mut pages: Vec<Vec<Placed>> = Vec::new();
    let chunks: Vec<_> = injuries.chunks(ROWS_PER_PAGE).collect();
    let page_count = chunks.len().max(1);
    let mut previous: Option<(String, &'static str)> = None;
    for k in 0..page_count {
        let mut page = vec![
            Placed {
                x: 289.0,
                y: 545.0,
                size: 22,
                text: title.clone(),
            },
            Placed {
                x: 398.0,
                y: 20.0,
                size: 10,
                text: format!("Page {} of {page_count}", k + 1),
            },
        ];
        for (x, header) in COLUMNS.iter().zip(HEADERS) {
            page.push(Placed {
                x: *x,
                y: 480.0,
                size: 10,
                text: header.to_string(),
            });
        }
        for (row, injury) in chunks.get(k).copied().unwrap_or(&[]).iter().enumerate() {
            let y = 458.0 - 22.0 * row as f32;
            let game_id = injury.game.game_id();
            let team = if injury.player.team.tricode == injury.game.home.tricode {
                injury.game.home
            } else {
                injury.game.away
            };
            let cell = |column: usize, text: String| Placed {
                x: COLUMNS[column] + 1.0,
                y,
                size: 10,
                text,
            };
            let new_game = previous.as_ref().is_none_or(|(g, _)| *g != game_id);
            let new_team = new_game || previous.as_ref().is_some_and(|(_, t)| *t != team.tricode);
            if new_game {
                page.push(cell(0, injury.game.date.format("%m/%d/%Y").to_string()));
                page.push(cell(1, game_time(&injury.game)));
                page.push(cell(
                    2,
                    format!("{}@{}", injury.game.away.tricode, injury.game.home.tricode),
                ));
            }
            if new_team {
                page.push(cell(3, team.full_name.to_string()));
            }
            page.push(cell(
                4,
                format!("{}, {}", injury.player.last_name, injury.player.first_name),
            ));
            page.push(cell(5, injury.status.to_string()));
            let reason = injury.reason;
            match reason[..reason.len().min(REASON_WRAP)].rfind(' ') {
                Some(cut) if reason.len() > REASON_WRAP => {
                    let (first, second) = reason.split_at(cut);
                    page.push(Placed {
                        y: y + 7.0,
                        ..cell(6, first.to_string())
                    });
                    page.push(Placed {
                        y: y - 7.0,
                        ..cell(6, second.trim().to_string())
                    });
                }
                _ => page.push(cell(6, reason.to_string())),
            }
            previous = Some((game_id, team.tricode));
        }
        pages.push(page);
    }
    pdf(&pages)
}

/// `Injury-Report_<date>_<time>.pdf` in the name form of its date.
pub(crate) async fn injury_report(Path(file): Path<String>) -> Response {
    match parse_injury_file(&file) {
        Some((date, time)) => pdf_response(injury_report_pdf(date, time)),
        None => access_denied(),
    }
}

/// The game book of `game`: matchup, final score line and each player's
/// points.
pub fn game_book_pdf(game: &Game) -> Vec<u8> {
    let box_score = game.box_score();
    let mut page = vec![
        Placed {
            x: 40.0,
            y: 550.0,
            size: 16,
            text: format!(
                "{} vs {} {}",
                game.away.full_name,
                game.home.full_name,
                game.date.format("%Y-%m-%d")
            ),
        },
        Placed {
            x: 40.0,
            y: 530.0,
            size: 10,
            text: format!(
                "Game Code: {}/{}{} Final: {} {} - {} {}",
                game.date.format("%Y%m%d"),
                game.away.tricode,
                game.home.tricode,
                game.away.tricode,
                box_score.away_score(),
                game.home.tricode,
                box_score.home_score()
            ),
        },
    ];
    let lines = box_score
        .away
        .iter()
        .map(|l| (game.away, l))
        .chain(box_score.home.iter().map(|l| (game.home, l)));
    for (row, (team, line)) in lines.enumerate() {
        page.push(Placed {
            x: 40.0,
            y: 500.0 - 14.0 * row as f32,
            size: 9,
            text: format!(
                "{} {} {} PTS",
                team.tricode,
                line.player.full_name(),
                line.pts()
            ),
        });
    }
    pdf(&[page])
}

/// `/pdfs/<YYYYMMDD>/<YYYYMMDD>_<AWY><HOM>.pdf`.
pub(crate) async fn game_book(Path((day, file)): Path<(String, String)>) -> Response {
    let game = file
        .strip_suffix(".pdf")
        .and_then(|rest| rest.split_once('_'))
        .filter(|(file_day, _)| *file_day == day)
        .and_then(|(_, teams)| {
            let date = NaiveDate::parse_from_str(&day, "%Y%m%d").ok()?;
            games_on(date)
                .into_iter()
                .find(|g| format!("{}{}", g.away.tricode, g.home.tricode) == teams)
        });
    match game {
        Some(game) => pdf_response(game_book_pdf(&game)),
        None => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}
