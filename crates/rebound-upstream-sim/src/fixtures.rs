//! Deterministic, generated NBA-like data: teams, games, players, box lines,
//! injuries, odds event ids and play-by-play.
//!
//! Everything is a pure function of the date (or of an id that encodes its
//! date), so a test can ask "how many games are on 2026-11-28?" here and rely
//! on the server answering with exactly that many records, on every run and
//! every machine. Nothing is copied from real payloads: names are synthetic,
//! only the 30 franchises are real-world facts.
//!
//! Ids encode what they identify, so routes keyed by an id (play-by-play,
//! odds for one event) can rebuild the game without any shared state:
//! - NBA game id `002YYNNNNN`: `YY` = season start year, `NNNNN` =
//!   days since July 1st of that year × 10 + index on the day + 1.
//! - Odds event id: 32 lower-case hex digits carrying the day and index,
//!   padded with hash bits so it looks like the real opaque ids.

use chrono::{Datelike, Duration as Days, NaiveDate, NaiveDateTime, NaiveTime};

/// Fewest games generated on one date.
pub const MIN_GAMES_PER_DATE: usize = 3;
/// Most games generated on one date.
pub const MAX_GAMES_PER_DATE: usize = 9;

/// The latest half-hour tip-off slot after 00:00Z: 03:30Z, the last before
/// midnight Eastern daylight time (see [`Game::tipoff_utc`]).
const LAST_TIPOFF_SLOT: usize = 7;

/// Players on each generated roster (all of them get a box-score line).
pub const ROSTER_SIZE: usize = 8;

/// One franchise.
#[derive(Debug, PartialEq, Eq)]
pub struct Team {
    /// Position in [`TEAMS`]; BallDontLie ids are `index + 1`.
    pub index: usize,
    pub tricode: &'static str,
    pub city: &'static str,
    pub name: &'static str,
    pub full_name: &'static str,
    pub conference: &'static str,
    pub division: &'static str,
}

impl Team {
    /// BallDontLie-style team id (1..=30, alphabetical like the real API).
    pub fn bdl_id(&self) -> u64 {
        self.index as u64 + 1
    }

    /// NBA.com-style team id.
    pub fn nba_id(&self) -> u64 {
        1_610_612_737 + self.index as u64
    }

    /// URL slug as NBA.com writes it, e.g. `celtics`.
    pub fn slug(&self) -> String {
        self.name.to_ascii_lowercase().replace(' ', "")
    }
}

const fn team(
    index: usize,
    tricode: &'static str,
    city: &'static str,
    name: &'static str,
    full_name: &'static str,
    conference: &'static str,
    division: &'static str,
) -> Team {
    Team {
        index,
        tricode,
        city,
        name,
        full_name,
        conference,
        division,
    }
}

/// The 30 franchises, alphabetical by city (the order BallDontLie numbers them).
pub static TEAMS: [Team; 30] = [
    team(
        0,
        "ATL",
        "Atlanta",
        "Hawks",
        "Atlanta Hawks",
        "East",
        "Southeast",
    ),
    team(
        1,
        "BOS",
        "Boston",
        "Celtics",
        "Boston Celtics",
        "East",
        "Atlantic",
    ),
    team(
        2,
        "BKN",
        "Brooklyn",
        "Nets",
        "Brooklyn Nets",
        "East",
        "Atlantic",
    ),
    team(
        3,
        "CHA",
        "Charlotte",
        "Hornets",
        "Charlotte Hornets",
        "East",
        "Southeast",
    ),
    team(
        4,
        "CHI",
        "Chicago",
        "Bulls",
        "Chicago Bulls",
        "East",
        "Central",
    ),
    team(
        5,
        "CLE",
        "Cleveland",
        "Cavaliers",
        "Cleveland Cavaliers",
        "East",
        "Central",
    ),
    team(
        6,
        "DAL",
        "Dallas",
        "Mavericks",
        "Dallas Mavericks",
        "West",
        "Southwest",
    ),
    team(
        7,
        "DEN",
        "Denver",
        "Nuggets",
        "Denver Nuggets",
        "West",
        "Northwest",
    ),
    team(
        8,
        "DET",
        "Detroit",
        "Pistons",
        "Detroit Pistons",
        "East",
        "Central",
    ),
    team(
        9,
        "GSW",
        "Golden State",
        "Warriors",
        "Golden State Warriors",
        "West",
        "Pacific",
    ),
    team(
        10,
        "HOU",
        "Houston",
        "Rockets",
        "Houston Rockets",
        "West",
        "Southwest",
    ),
    team(
        11,
        "IND",
        "Indiana",
        "Pacers",
        "Indiana Pacers",
        "East",
        "Central",
    ),
    team(
        12,
        "LAC",
        "LA",
        "Clippers",
        "LA Clippers",
        "West",
        "Pacific",
    ),
    team(
        13,
        "LAL",
        "Los Angeles",
        "Lakers",
        "Los Angeles Lakers",
        "West",
        "Pacific",
    ),
    team(
        14,
        "MEM",
        "Memphis",
        "Grizzlies",
        "Memphis Grizzlies",
        "West",
        "Southwest",
    ),
    team(
        15,
        "MIA",
        "Miami",
        "Heat",
        "Miami Heat",
        "East",
        "Southeast",
    ),
    team(
        16,
        "MIL",
        "Milwaukee",
        "Bucks",
        "Milwaukee Bucks",
        "East",
        "Central",
    ),
    team(
        17,
        "MIN",
        "Minnesota",
        "Timberwolves",
        "Minnesota Timberwolves",
        "West",
        "Northwest",
    ),
    team(
        18,
        "NOP",
        "New Orleans",
        "Pelicans",
        "New Orleans Pelicans",
        "West",
        "Southwest",
    ),
    team(
        19,
        "NYK",
        "New York",
        "Knicks",
        "New York Knicks",
        "East",
        "Atlantic",
    ),
    team(
        20,
        "OKC",
        "Oklahoma City",
        "Thunder",
        "Oklahoma City Thunder",
        "West",
        "Northwest",
    ),
    team(
        21,
        "ORL",
        "Orlando",
        "Magic",
        "Orlando Magic",
        "East",
        "Southeast",
    ),
    team(
        22,
        "PHI",
        "Philadelphia",
        "76ers",
        "Philadelphia 76ers",
        "East",
        "Atlantic",
    ),
    team(
        23,
        "PHX",
        "Phoenix",
        "Suns",
        "Phoenix Suns",
        "West",
        "Pacific",
    ),
    team(
        24,
        "POR",
        "Portland",
        "Trail Blazers",
        "Portland Trail Blazers",
        "West",
        "Northwest",
    ),
    team(
        25,
        "SAC",
        "Sacramento",
        "Kings",
        "Sacramento Kings",
        "West",
        "Pacific",
    ),
    team(
        26,
        "SAS",
        "San Antonio",
        "Spurs",
        "San Antonio Spurs",
        "West",
        "Southwest",
    ),
    team(
        27,
        "TOR",
        "Toronto",
        "Raptors",
        "Toronto Raptors",
        "East",
        "Atlantic",
    ),
    team(28, "UTA", "Utah", "Jazz", "Utah Jazz", "West", "Northwest"),
    team(
        29,
        "WAS",
        "Washington",
        "Wizards",
        "Washington Wizards",
        "East",
        "Southeast",
    ),
];

// Synthetic names: deliberately generic, combined by index, so no real
// roster is reproduced.
const FIRST_NAMES: [&str; 20] = [
    "Aaron", "Blake", "Caleb", "Darius", "Elijah", "Felix", "Gavin", "Hector", "Isaac", "Jonah",
    "Kendall", "Luca", "Malik", "Nolan", "Owen", "Preston", "Quentin", "Rafael", "Silas", "Tobias",
];
const LAST_NAMES: [&str; 23] = [
    "Abbott",
    "Barrow",
    "Castell",
    "Dunmore",
    "Ellery",
    "Fairbank",
    "Galloway",
    "Hartwell",
    "Ingram",
    "Jessop",
    "Kettering",
    "Lindqvist",
    "Marlowe",
    "Northcott",
    "Okafor",
    "Pemberton",
    "Quarles",
    "Redmond",
    "Stanhope",
    "Thackeray",
    "Underhill",
    "Vasquez",
    "Whitlock",
];
const POSITIONS: [&str; ROSTER_SIZE] = ["G", "G", "F", "F", "C", "G-F", "F-C", "G"];

/// One generated player.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Player {
    pub team: &'static Team,
    /// 0-based place on the roster; lower slots play more.
    pub slot: usize,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub position: &'static str,
    pub jersey: u32,
}

impl Player {
    /// BallDontLie-style player id.
    pub fn bdl_id(&self) -> u64 {
        1_000 + (self.team.index * ROSTER_SIZE + self.slot) as u64
    }

    /// NBA.com-style person id.
    pub fn nba_id(&self) -> u64 {
        1_629_000 + (self.team.index * ROSTER_SIZE + self.slot) as u64
    }

    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    /// `F. Last`, as play-by-play feeds abbreviate.
    pub fn initial_name(&self) -> String {
        format!("{}. {}", &self.first_name[..1], self.last_name)
    }
}

/// The roster of `team`, slot order.
pub fn roster(team: &'static Team) -> Vec<Player> {
    (0..ROSTER_SIZE)
        .map(|slot| {
            let n = team.index * ROSTER_SIZE + slot;
            Player {
                team,
                slot,
                // Different strides so neighbours don't share both names.
                first_name: FIRST_NAMES[(n * 7 + 3) % FIRST_NAMES.len()],
                last_name: LAST_NAMES[(n * 11 + team.index) % LAST_NAMES.len()],
                position: POSITIONS[slot],
                jersey: ((n * 13) % 45) as u32,
            }
        })
        .collect()
}

/// A small, fast, seedable generator (splitmix64): good enough to vary
/// fixtures, and unlike `rand` its sequence will never change under us.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform-ish in `0..n` (`n > 0`); the modulo bias is irrelevant here.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seed for everything generated about one date, salted per purpose.
fn date_seed(date: NaiveDate, salt: u64) -> u64 {
    mix((date.num_days_from_ce() as u64).wrapping_mul(0x1000_0000_01B3) ^ salt)
}

/// Parses `YYYY-MM-DD` or `YYYYMMDD`.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%Y%m%d"))
        .ok()
}

/// The year a season starts in: seasons run from July to June here.
pub fn season_start_year(date: NaiveDate) -> i32 {
    if date.month() >= 7 {
        date.year()
    } else {
        date.year() - 1
    }
}

/// `2026-27` style season label.
pub fn season_label(date: NaiveDate) -> String {
    let start = season_start_year(date);
    format!("{start}-{:02}", (start + 1) % 100)
}

fn season_start(year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, 7, 1).expect("July 1st exists")
}

/// The first and last dates whose games this upstream can find again by
/// id: those of the seasons starting 2000 to 2099. A game id carries its
/// season's year in two digits, read back as 20YY, so a date of the
/// 1999-00 season or of one from 2100 on would be scheduled and then
/// answered "no such game" (the Odds API's event ids, counting days from
/// 2000-01-01 in 16 bits, would wrap in 2179).
pub fn calendar() -> (NaiveDate, NaiveDate) {
    (
        season_start(2000),
        season_start(2100).pred_opt().expect("June 30th exists"),
    )
}

/// How many games are played on `date` (between 3 and 9).
pub fn game_count(date: NaiveDate) -> usize {
    let span = (MAX_GAMES_PER_DATE - MIN_GAMES_PER_DATE + 1) as u64;
    MIN_GAMES_PER_DATE + (date_seed(date, 1) % span) as usize
}

/// One generated game.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Game {
    /// The US calendar date the game is played on.
    pub date: NaiveDate,
    /// 0-based position among the games of `date`.
    pub index: usize,
    pub home: &'static Team,
    pub away: &'static Team,
}

impl Game {
    /// NBA.com game id, e.g. `0022601501` (see the module doc).
    pub fn game_id(&self) -> String {
        let year = season_start_year(self.date);
        format!("002{:02}{:05}", year % 100, self.sequence())
    }

    /// BallDontLie game id.
    pub fn bdl_id(&self) -> u64 {
        let year = season_start_year(self.date) as u64;
        18_000_000 + (year % 100) * 10_000 + self.sequence()
    }

    fn sequence(&self) -> u64 {
        let days = (self.date - season_start(season_start_year(self.date))).num_days() as u64;
        days * 10 + self.index as u64 + 1
    }

    /// Tip-off in UTC: from 00:00Z the next day (7 pm Eastern standard
    /// time, 8 pm daylight) in half hours, the ninth game at the eighth's
    /// 03:30Z. A tip-off must stay before 04:00Z, midnight Eastern daylight
    /// time: at 04:00Z the schedule (which dates games in Eastern time)
    /// listed the game under the next date while every other host filed it
    /// under this one, so its game book was never collected.
    pub fn tipoff_utc(&self) -> NaiveDateTime {
        let next_day = self.date + Days::days(1);
        let slot = self.index.min(LAST_TIPOFF_SLOT);
        next_day.and_time(NaiveTime::MIN) + Days::minutes(30 * slot as i64)
    }

    /// Odds API event id for this game (32 lower-case hex digits).
    pub fn event_id(&self) -> String {
        let day = (self.date - epoch()).num_days() as u64;
        let h1 = mix(date_seed(self.date, 2) ^ self.index as u64);
        let h2 = mix(h1 ^ 0xA5A5);
        format!(
            "{h1:016x}{:04x}{:02x}{:010x}",
            day & 0xFFFF,
            self.index,
            h2 & 0xFF_FFFF_FFFF
        )
    }

    fn seed(&self, salt: u64) -> u64 {
        mix(date_seed(self.date, salt) ^ (self.index as u64).wrapping_mul(0x100_0193))
    }

    /// Box-score lines of both teams; a team's score is the sum of its points.
    pub fn box_score(&self) -> BoxScore {
        BoxScore {
            home: team_lines(self.home, self.seed(3)),
            away: team_lines(self.away, self.seed(4)),
        }
    }
}

/// Day 0 of the odds event ids' day counter.
fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date")
}

/// The games of `date`, in tip-off order. Teams are paired by a per-date
/// shuffle, so nobody plays twice on one date.
pub fn games_on(date: NaiveDate) -> Vec<Game> {
    let mut order: Vec<usize> = (0..TEAMS.len()).collect();
    let mut rng = Rng::new(date_seed(date, 5));
    for i in (1..order.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    (0..game_count(date))
        .map(|index| Game {
            date,
            index,
            home: &TEAMS[order[2 * index]],
            away: &TEAMS[order[2 * index + 1]],
        })
        .collect()
}

/// The game an NBA.com game id names, if this simulation scheduled it.
/// Also accepts the id without its leading `00` (BigDataBall writes it so).
pub fn game_by_id(game_id: &str) -> Option<Game> {
    let full;
    let id = if game_id.len() == 8 {
        full = format!("00{game_id}");
        full.as_str()
    } else {
        game_id
    };
    if id.len() != 10 || !id.starts_with("002") || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year = 2000 + id[3..5].parse::<i32>().ok()?;
    let sequence = id[5..].parse::<u64>().ok()?.checked_sub(1)?;
    let date = season_start(year).checked_add_signed(Days::days((sequence / 10) as i64))?;
    if season_start_year(date) != year {
        return None;
    }
    games_on(date).into_iter().nth((sequence % 10) as usize)
}

/// The game an Odds API event id names, if this simulation issued it.
pub fn game_by_event_id(event_id: &str) -> Option<Game> {
    if event_id.len() != 32
        || !event_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let day = u64::from_str_radix(&event_id[16..20], 16).ok()?;
    let index = usize::from_str_radix(&event_id[20..22], 16).ok()?;
    let date = epoch().checked_add_signed(Days::days(day as i64))?;
    let game = games_on(date).into_iter().nth(index)?;
    // The other digits are hash bits: checking them rejects made-up ids.
    (game.event_id() == event_id).then_some(game)
}

/// One player's line in a box score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayerLine {
    pub player: Player,
    pub minutes: u32,
    pub fgm: u32,
    pub fga: u32,
    pub fg3m: u32,
    pub fg3a: u32,
    pub ftm: u32,
    pub fta: u32,
    pub oreb: u32,
    pub dreb: u32,
    pub ast: u32,
    pub stl: u32,
    pub blk: u32,
    pub turnover: u32,
    pub pf: u32,
}

impl PlayerLine {
    pub fn pts(&self) -> u32 {
        2 * self.fgm + self.fg3m + self.ftm
    }
}

/// Both teams' lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxScore {
    pub home: Vec<PlayerLine>,
    pub away: Vec<PlayerLine>,
}

impl BoxScore {
    pub fn home_score(&self) -> u32 {
        self.home.iter().map(PlayerLine::pts).sum()
    }

    pub fn away_score(&self) -> u32 {
        self.away.iter().map(PlayerLine::pts).sum()
    }
}

fn team_lines(team: &'static Team, seed: u64) -> Vec<PlayerLine> {
    let mut rng = Rng::new(seed);
    roster(team)
        .into_iter()
        .map(|player| {
            // Starters (low slots) shoot more, so totals land near real scores.
            let volume = (ROSTER_SIZE - player.slot) as u64;
            let fgm = 2 + rng.below(volume + 3) as u32;
            let fg3m = rng.below(u64::from(fgm).min(4) + 1) as u32;
            let ftm = rng.below(6) as u32;
            PlayerLine {
                minutes: 14 + rng.below(22) as u32,
                fga: fgm + 1 + rng.below(8) as u32,
                fg3a: fg3m + rng.below(4) as u32,
                fta: ftm + rng.below(3) as u32,
                oreb: rng.below(4) as u32,
                dreb: rng.below(9) as u32,
                ast: rng.below(9) as u32,
                stl: rng.below(3) as u32,
                blk: rng.below(3) as u32,
                turnover: rng.below(5) as u32,
                pf: rng.below(6) as u32,
                fgm,
                fg3m,
                ftm,
                player,
            }
        })
        .collect()
}

/// One line of the injury report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injury {
    pub game: Game,
    pub player: Player,
    pub status: &'static str,
    pub reason: &'static str,
}

const INJURY_STATUSES: [&str; 5] = ["Out", "Questionable", "Doubtful", "Probable", "Available"];
const INJURY_REASONS: [&str; 8] = [
    "Injury/Illness - Left Ankle; Sprain",
    "Injury/Illness - Right Knee; Soreness",
    "Injury/Illness - Lower Back; Spasms",
    "Injury/Illness - Left Hamstring; Strain",
    "Injury/Illness - Illness; Non-COVID",
    "Injury/Illness - Right Wrist; Contusion",
    "Rest",
    "G League - On Assignment",
];

/// The injury report of `date`: one to three lines per game.
pub fn injuries_on(date: NaiveDate) -> Vec<Injury> {
    let mut out = Vec::new();
    for game in games_on(date) {
        let mut rng = Rng::new(game.seed(6));
        let lines = 1 + rng.below(3) as usize;
        for k in 0..lines {
            // Alternate teams, and take bench players first so one player
            // never appears twice for a game.
            let team = if k % 2 == 0 { game.home } else { game.away };
            let player = roster(team).swap_remove(ROSTER_SIZE - 1 - k / 2);
            out.push(Injury {
                game: game.clone(),
                player,
                status: INJURY_STATUSES[rng.below(INJURY_STATUSES.len() as u64) as usize],
                reason: INJURY_REASONS[rng.below(INJURY_REASONS.len() as u64) as usize],
            });
        }
    }
    out
}

/// What happened in one play-by-play action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayKind {
    PeriodStart,
    PeriodEnd,
    TwoPointer,
    ThreePointer,
    FreeThrow,
}

/// One play-by-play action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Play {
    /// 1-based, in order.
    pub number: u32,
    pub period: u32,
    /// Seconds left in the period.
    pub clock_seconds: u32,
    pub kind: PlayKind,
    /// The scoring player, `None` for period markers.
    pub player: Option<Player>,
    pub points: u32,
    pub score_home: u32,
    pub score_away: u32,
}

impl Play {
    pub fn description(&self) -> String {
        match (&self.player, self.kind) {
            (_, PlayKind::PeriodStart) => "Period Start".to_string(),
            (_, PlayKind::PeriodEnd) => "Period End".to_string(),
            (Some(p), PlayKind::TwoPointer) => format!("{} 14' Jump Shot (2 PTS)", p.last_name),
            (Some(p), PlayKind::ThreePointer) => {
                format!("{} 25' 3PT Jump Shot (3 PTS)", p.last_name)
            }
            (Some(p), PlayKind::FreeThrow) => format!("{} Free Throw 1 of 1 (1 PTS)", p.last_name),
            (None, _) => String::new(),
        }
    }
}

/// Scoring plays per period in the generated play-by-play.
pub const PLAYS_PER_PERIOD: usize = 10;

/// The play-by-play of `game`: four periods, each a start marker,
/// [`PLAYS_PER_PERIOD`] scoring plays and an end marker.
pub fn plays(game: &Game) -> Vec<Play> {
    let mut rng = Rng::new(game.seed(7));
    let (home, away) = (roster(game.home), roster(game.away));
    let (mut score_home, mut score_away) = (0, 0);
    let mut out = Vec::new();
    let mut number = 0;
    for period in 1..=4 {
        number += 1;
        out.push(Play {
            number,
            period,
            clock_seconds: 720,
            kind: PlayKind::PeriodStart,
            player: None,
            points: 0,
            score_home,
            score_away,
        });
        for k in 0..PLAYS_PER_PERIOD as u32 {
            let is_home = rng.below(2) == 0;
            let player = if is_home { &home } else { &away }[rng.below(5) as usize].clone();
            let (kind, points) = match rng.below(5) {
                0 => (PlayKind::ThreePointer, 3),
                1 => (PlayKind::FreeThrow, 1),
                _ => (PlayKind::TwoPointer, 2),
            };
            if is_home {
                score_home += points;
            } else {
                score_away += points;
            }
            number += 1;
            out.push(Play {
                number,
                period,
                clock_seconds: 700 - k * 65 - rng.below(40) as u32,
                kind,
                player: Some(player),
                points,
                score_home,
                score_away,
            });
        }
        number += 1;
        out.push(Play {
            number,
            period,
            clock_seconds: 0,
            kind: PlayKind::PeriodEnd,
            player: None,
            points: 0,
            score_home,
            score_away,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        parse_date(text).unwrap()
    }

    #[test]
    fn game_ids_round_trip() {
        for day in ["2026-07-01", "2026-11-28", "2027-06-30", "2027-02-14"] {
            for game in games_on(date(day)) {
                assert_eq!(game_by_id(&game.game_id()).as_ref(), Some(&game));
                assert_eq!(game_by_id(&game.game_id()[2..]).as_ref(), Some(&game));
                assert_eq!(game_by_event_id(&game.event_id()).as_ref(), Some(&game));
            }
        }
        // The calendar's first and last days too (the 1999-00 season and
        // those from 2100 did not round-trip).
        let (first, last) = calendar();
        for day in [first, last] {
            let games = games_on(day);
            assert!(!games.is_empty());
            for game in games {
                assert_eq!(game_by_id(&game.game_id()).as_ref(), Some(&game));
                assert_eq!(game_by_event_id(&game.event_id()).as_ref(), Some(&game));
            }
        }
        assert_eq!(game_by_id("0022699999"), None);
        assert_eq!(game_by_event_id(&"0".repeat(32)), None);
    }

    #[test]
    fn counts_stay_in_range_and_teams_do_not_repeat() {
        let mut day = date("2026-10-01");
        for _ in 0..200 {
            let games = games_on(day);
            assert!((MIN_GAMES_PER_DATE..=MAX_GAMES_PER_DATE).contains(&games.len()));
            let mut seen: Vec<&str> = games
                .iter()
                .flat_map(|g| [g.home.tricode, g.away.tricode])
                .collect();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), games.len() * 2);
            day += Days::days(1);
        }
    }

    #[test]
    fn every_tipoff_falls_on_its_date_in_eastern_time() {
        // Midnight Eastern daylight time is 04:00Z (standard: 05:00Z), so a
        // tip-off before 04:00Z the next day is on its date all year.
        let mut day = date("2025-10-01");
        for _ in 0..400 {
            for game in games_on(day) {
                let midnight_edt = (day + Days::days(1)).and_hms_opt(4, 0, 0).unwrap();
                assert!(
                    game.tipoff_utc() < midnight_edt,
                    "game {} of {day} tips off at {}",
                    game.index,
                    game.tipoff_utc()
                );
            }
            day += Days::days(1);
        }
    }

    #[test]
    fn scores_are_sums_of_points() {
        let game = games_on(date("2026-11-28")).remove(0);
        let box_score = game.box_score();
        assert_eq!(
            box_score.home_score(),
            box_score.home.iter().map(PlayerLine::pts).sum::<u32>()
        );
        assert!(box_score.home_score() > 40);
        assert_eq!(plays(&game).len(), 4 * (PLAYS_PER_PERIOD + 2));
    }
}
