//! The school calendar as data (domain reference §5: "holidays differ by zone
//! (A, B, C): the calendar is data, per académie").
//!
//! A calendar file (TOML, see `calendar/fr-metropole.toml`, embedded in the
//! crate and replaceable by a file given on the command line) maps each
//! académie to its holiday zone and lists, per school year, the rentrée, the
//! start of the summer holidays and the holiday periods of each zone, with
//! the official convention: a period runs from its first day without classes
//! (`from`, usually a Saturday) to the morning classes resume (`resume`).
//! Loading validates everything: dates parse, periods are in order, do not
//! overlap and stay inside their year, every académie has a zone or says
//! why it is not covered.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

/// The calendar shipped with the crate.
pub const EMBEDDED: &str = include_str!("../calendar/fr-metropole.toml");

/// A holiday zone of metropolitan France.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
pub enum Zone {
    /// Zone A.
    A,
    /// Zone B.
    B,
    /// Zone C.
    C,
}

impl Zone {
    /// Every zone.
    pub const ALL: [Zone; 3] = [Zone::A, Zone::B, Zone::C];

    /// "A", "B" or "C".
    pub fn as_str(self) -> &'static str {
        match self {
            Zone::A => "A",
            Zone::B => "B",
            Zone::C => "C",
        }
    }
}

/// How far a school year's dates can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum YearStatus {
    /// Dates of the published arrêté.
    Official,
    /// Dates of a draft arrêté: used only when explicitly allowed.
    Draft,
    /// No dates: any period touching the year is refused.
    Missing,
}

/// An académie of the calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Academie {
    /// Code used on the command line (e.g. `rennes`).
    pub code: String,
    /// Name shown to people (e.g. `Rennes`).
    pub name: String,
    /// Its zone, or why it is not covered.
    pub zone: Result<Zone, String>,
    /// Good Friday and 26 December are public holidays there (Alsace-Moselle
    /// local law).
    pub alsace_moselle: bool,
}

/// One holiday period of one zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    /// Its name (e.g. "Vacances d'hiver").
    pub name: String,
    /// First day without classes.
    pub from: NaiveDate,
    /// Day classes resume, in the morning.
    pub resume: NaiveDate,
}

/// The dates of a school year whose status is not `Missing`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearDates {
    /// Day the pupils' classes start.
    pub rentree: NaiveDate,
    /// First day of the summer holidays.
    pub summer: NaiveDate,
    /// Holiday periods per zone, in order.
    pub holidays: BTreeMap<Zone, Vec<Holiday>>,
}

/// One school year (1 September to 31 August).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolYear {
    /// E.g. "2026-2027".
    pub name: String,
    /// The calendar year the school year starts in (2026 for "2026-2027").
    pub first_year: i32,
    /// Official, draft or missing.
    pub status: YearStatus,
    /// Where the dates come from.
    pub source: String,
    /// The dates, absent for a missing year.
    pub dates: Option<YearDates>,
}

/// A loaded, validated calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// Where the zone map comes from.
    pub source: String,
    /// Académies by code.
    pub academies: BTreeMap<String, Academie>,
    /// School years by first calendar year.
    pub years: BTreeMap<i32, SchoolYear>,
}

/// Why a calendar file was refused.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// Not TOML, or fields of the wrong type.
    #[error("calendar file: {0}")]
    Syntax(#[from] toml::de::Error),
    /// An académie has both or neither of `zone` and `uncovered`.
    #[error("calendar file: académie {code}: give exactly one of `zone` or `uncovered`")]
    AcademieZone {
        /// The académie code.
        code: String,
    },
    /// A year name is not `YYYY-YYYY` with consecutive years.
    #[error("calendar file: year {name:?}: the name must be two consecutive years, e.g. 2026-2027")]
    YearName {
        /// The name as written.
        name: String,
    },
    /// Two entries for the same year.
    #[error("calendar file: year {name} is listed twice")]
    DuplicateYear {
        /// The year.
        name: String,
    },
    /// A date does not parse.
    #[error("calendar file: year {year}: {field} = {value:?} is not a date (YYYY-MM-DD)")]
    Date {
        /// The year.
        year: String,
        /// The field.
        field: String,
        /// The value as written.
        value: String,
    },
    /// A required date is absent from an official or draft year.
    #[error("calendar file: year {year}: {field} is missing")]
    MissingField {
        /// The year.
        year: String,
        /// The field.
        field: &'static str,
    },
    /// A missing year carries dates.
    #[error("calendar file: year {year}: status \"missing\" cannot carry dates")]
    DatesInMissingYear {
        /// The year.
        year: String,
    },
    /// A date falls outside its school year (1 September to 31 August), or
    /// rentrée/summer/period bounds are in the wrong order.
    #[error("calendar file: year {year}: {what}")]
    Order {
        /// The year.
        year: String,
        /// What is wrong.
        what: String,
    },
    /// A zone has no period in a year that has dates.
    #[error("calendar file: year {year}: zone {zone} has no holiday period")]
    EmptyZone {
        /// The year.
        year: String,
        /// The zone.
        zone: &'static str,
    },
    /// A period names no zone.
    #[error("calendar file: year {year}: period {name:?} names no zone")]
    NoZone {
        /// The year.
        year: String,
        /// The period.
        name: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    source: String,
    academies: BTreeMap<String, RawAcademie>,
    #[serde(default)]
    year: Vec<RawYear>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAcademie {
    name: String,
    zone: Option<Zone>,
    uncovered: Option<String>,
    #[serde(default)]
    alsace_moselle: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
    name: String,
    status: YearStatus,
    source: String,
    rentree: Option<String>,
    summer: Option<String>,
    #[serde(default)]
    holiday: Vec<RawHoliday>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    name: String,
    zones: Vec<Zone>,
    from: String,
    resume: String,
}

impl Calendar {
    /// The calendar shipped with the crate.
    pub fn embedded() -> Result<Self, CalendarError> {
        Self::parse(EMBEDDED)
    }

    /// Parses and validates a calendar file's text.
    pub fn parse(text: &str) -> Result<Self, CalendarError> {
        let raw: RawCalendar = toml::from_str(text)?;
        let mut academies = BTreeMap::new();
        for (code, a) in raw.academies {
            let zone = match (a.zone, a.uncovered) {
                (Some(zone), None) => Ok(zone),
                (None, Some(why)) => Err(why),
                _ => return Err(CalendarError::AcademieZone { code }),
            };
            academies.insert(
                code.clone(),
                Academie {
                    code,
                    name: a.name,
                    zone,
                    alsace_moselle: a.alsace_moselle,
                },
            );
        }
        let mut years = BTreeMap::new();
        for y in raw.year {
            let year = parse_year(y)?;
            if years.contains_key(&year.first_year) {
                return Err(CalendarError::DuplicateYear { name: year.name });
            }
            years.insert(year.first_year, year);
        }
        Ok(Self {
            source: raw.source,
            academies,
            years,
        })
    }

    /// The school year `date` belongs to (1 September to 31 August), if the
    /// calendar lists it.
    pub fn year_of(&self, date: NaiveDate) -> Option<&SchoolYear> {
        self.years.get(&school_year_start(date))
    }
}

/// The calendar year in which the school year holding `date` starts.
pub fn school_year_start(date: NaiveDate) -> i32 {
    if date.month() >= 9 {
        date.year()
    } else {
        date.year() - 1
    }
}

fn parse_year(y: RawYear) -> Result<SchoolYear, CalendarError> {
    let first_year = y
        .name
        .split_once('-')
        .and_then(|(a, b)| Some((a.parse::<i32>().ok()?, b.parse::<i32>().ok()?)))
        .filter(|(a, b)| a.checked_add(1) == Some(*b))
        .map(|(a, _)| a)
        .ok_or_else(|| CalendarError::YearName {
            name: y.name.clone(),
        })?;
    if y.status == YearStatus::Missing {
        if y.rentree.is_some() || y.summer.is_some() || !y.holiday.is_empty() {
            return Err(CalendarError::DatesInMissingYear { year: y.name });
        }
        return Ok(SchoolYear {
            name: y.name,
            first_year,
            status: y.status,
            source: y.source,
            dates: None,
        });
    }
    let name = y.name.clone();
    let date = |field: &str, value: Option<&String>, label: &'static str| {
        let value = value.ok_or_else(|| CalendarError::MissingField {
            year: name.clone(),
            field: label,
        })?;
        NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| CalendarError::Date {
            year: name.clone(),
            field: field.to_owned(),
            value: value.clone(),
        })
    };
    let rentree = date("rentree", y.rentree.as_ref(), "rentree")?;
    let summer = date("summer", y.summer.as_ref(), "summer")?;
    let order = |what: String| CalendarError::Order {
        year: name.clone(),
        what,
    };
    let span_start = NaiveDate::from_ymd_opt(first_year, 9, 1);
    let span_end = NaiveDate::from_ymd_opt(first_year + 1, 8, 31);
    let inside =
        |d: NaiveDate| span_start.is_some_and(|s| d >= s) && span_end.is_some_and(|e| d <= e);
    if !inside(rentree) || !inside(summer) || rentree >= summer {
        return Err(order(format!(
            "rentree {rentree} and summer {summer} must be in order inside 1 September {first_year} – 31 August {}",
            first_year + 1
        )));
    }
    let mut holidays: BTreeMap<Zone, Vec<Holiday>> = BTreeMap::new();
    for h in y.holiday {
        if h.zones.is_empty() {
            return Err(CalendarError::NoZone {
                year: name.clone(),
                name: h.name,
            });
        }
        let label = format!("holiday {:?}", h.name);
        let from = date(&format!("{label} from"), Some(&h.from), "from")?;
        let resume = date(&format!("{label} resume"), Some(&h.resume), "resume")?;
        if from >= resume || from <= rentree || resume >= summer {
            return Err(order(format!(
                "{label}: {from} → {resume} must be a non-empty period between the rentree and the summer holidays"
            )));
        }
        for zone in h.zones {
            holidays.entry(zone).or_default().push(Holiday {
                name: h.name.clone(),
                from,
                resume,
            });
        }
    }
    for zone in Zone::ALL {
        let periods = holidays.entry(zone).or_default();
        if periods.is_empty() {
            return Err(CalendarError::EmptyZone {
                year: name.clone(),
                zone: zone.as_str(),
            });
        }
        periods.sort_by_key(|h| h.from);
        for pair in periods.windows(2) {
            if let [a, b] = pair
                && b.from < a.resume
            {
                return Err(order(format!(
                    "zone {}: {:?} ({} → {}) overlaps {:?} ({} → {})",
                    zone.as_str(),
                    a.name,
                    a.from,
                    a.resume,
                    b.name,
                    b.from,
                    b.resume
                )));
            }
        }
    }
    Ok(SchoolYear {
        name: y.name,
        first_year,
        status: y.status,
        source: y.source,
        dates: Some(YearDates {
            rentree,
            summer,
            holidays,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_calendar_loads_and_maps_every_academie() {
        let calendar = Calendar::embedded().unwrap();
        assert_eq!(calendar.academies.len(), 30);
        for a in calendar.academies.values() {
            match &a.zone {
                Ok(_) => {}
                Err(why) => assert!(!why.is_empty(), "{} says why it is not covered", a.code),
            }
        }
        let zone = |code: &str| calendar.academies[code].zone.clone().unwrap();
        assert_eq!(zone("lyon"), Zone::A);
        assert_eq!(zone("rennes"), Zone::B);
        assert_eq!(zone("paris"), Zone::C);
        assert!(calendar.academies["corse"].zone.is_err());
        let covered = calendar
            .academies
            .values()
            .filter(|a| a.zone.is_ok())
            .count();
        assert_eq!(
            covered, 24,
            "the 24 académies of the three metropolitan zones"
        );
    }

    #[test]
    fn the_embedded_years_have_their_periods_in_order_or_are_marked_missing() {
        let calendar = Calendar::embedded().unwrap();
        let y2026 = &calendar.years[&2026];
        assert_eq!(y2026.status, YearStatus::Draft);
        let dates = y2026.dates.as_ref().unwrap();
        for zone in Zone::ALL {
            let periods = &dates.holidays[&zone];
            assert_eq!(periods.len(), 5, "zone {}", zone.as_str());
            assert!(periods.windows(2).all(|p| p[0].resume <= p[1].from));
            assert!(periods[0].from > dates.rentree);
            assert!(periods[4].resume < dates.summer);
        }
        let y2027 = &calendar.years[&2027];
        assert_eq!(y2027.status, YearStatus::Missing);
        assert!(y2027.dates.is_none());
        assert!(y2027.source.contains("2027-2028"));
    }

    const MINIMAL: &str = r#"
source = "test"
[academies]
x = { name = "X", zone = "A" }
[[year]]
name = "2026-2027"
status = "official"
source = "test"
rentree = "2026-09-01"
summer = "2027-07-03"
[[year.holiday]]
name = "H"
zones = ["A", "B", "C"]
from = "2026-10-17"
resume = "2026-11-02"
"#;

    #[test]
    fn a_valid_file_loads_and_each_mutation_is_refused() {
        assert!(Calendar::parse(MINIMAL).is_ok(), "positive control");
        let refused = |from: &str, to: &str| {
            let text = MINIMAL.replacen(from, to, 1);
            assert_ne!(text, MINIMAL);
            Calendar::parse(&text).unwrap_err()
        };
        assert!(matches!(
            refused("zone = \"A\" }", "}"),
            CalendarError::AcademieZone { .. }
        ));
        assert!(matches!(
            refused("\"2026-2027\"", "\"2026-2028\""),
            CalendarError::YearName { .. }
        ));
        assert!(matches!(
            refused("\"2026-10-17\"", "\"2026-10-32\""),
            CalendarError::Date { .. }
        ));
        assert!(matches!(
            refused("resume = \"2026-11-02\"", "resume = \"2026-10-01\""),
            CalendarError::Order { .. }
        ));
        assert!(matches!(
            refused("summer = \"2027-07-03\"", "summer = \"2027-09-03\""),
            CalendarError::Order { .. }
        ));
        assert!(matches!(
            refused("[\"A\", \"B\", \"C\"]", "[\"A\", \"B\"]"),
            CalendarError::EmptyZone { zone: "C", .. }
        ));
        assert!(matches!(
            refused("status = \"official\"", "status = \"missing\""),
            CalendarError::DatesInMissingYear { .. }
        ));
        assert!(matches!(
            refused("rentree = \"2026-09-01\"\n", ""),
            CalendarError::MissingField {
                field: "rentree",
                ..
            }
        ));
    }

    #[test]
    fn overlapping_periods_of_one_zone_are_refused() {
        let text = format!(
            "{MINIMAL}[[year.holiday]]\nname = \"I\"\nzones = [\"B\"]\nfrom = \"2026-10-31\"\nresume = \"2026-11-09\"\n"
        );
        assert!(matches!(
            Calendar::parse(&text).unwrap_err(),
            CalendarError::Order { .. }
        ));
    }
}
