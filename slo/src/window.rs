//! The contractual window (domain reference §5): 8h–22h Europe/Paris,
//! Monday to Friday, on school days of the académie's zone, public holidays
//! excluded. Pure computation: classifies a day, an instant, and splits a
//! period into in-window and out-of-window stretches (DST days included:
//! the window is 8h–22h on the wall clock, and the days of the clock change
//! have 23 or 25 hours; 8h and 22h exist once on every day).

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Europe::Paris;

use crate::calendar::{Academie, Calendar, YearStatus, school_year_start};
use crate::feries::public_holiday;

/// First hour of the window (Paris wall clock).
pub const WINDOW_START_HOUR: u32 = 8;
/// Hour the window closes (Paris wall clock, excluded).
pub const WINDOW_END_HOUR: u32 = 22;

/// What kind of day a date is for one académie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayClass {
    /// A weekday with classes: 8h–22h is in the window.
    SchoolDay,
    /// Saturday or Sunday.
    Weekend,
    /// A public holiday (its name).
    PublicHoliday(&'static str),
    /// School holidays (the period's name).
    SchoolHoliday(String),
}

/// Why a date cannot be classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassifyError {
    /// The académie code is not in the calendar.
    #[error("académie inconnue : {0:?} (voir la liste du calendrier)")]
    UnknownAcademie(String),
    /// The académie is in the calendar without a zone.
    #[error("l'académie {name} n'est pas couverte par le calendrier : {why}")]
    Uncovered {
        /// Its name.
        name: String,
        /// Why.
        why: String,
    },
    /// The calendar has no entry, or a `missing` one, for the school year.
    #[error(
        "l'année scolaire {year} n'a pas de dates dans le calendrier (il en faut pour classer le {date}){detail}"
    )]
    MissingYear {
        /// E.g. "2027-2028".
        year: String,
        /// The calendar's note, if any.
        detail: String,
        /// The first date that needed it (dd/mm/yyyy).
        date: String,
    },
    /// The year's dates are a draft and drafts were not allowed.
    #[error(
        "l'année scolaire {year} n'a que des dates de projet d'arrêté (non publiées) : relancer avec --allow-draft pour les utiliser, ou fournir un calendrier officiel avec --calendar"
    )]
    DraftYear {
        /// E.g. "2026-2027".
        year: String,
    },
    /// A local time that does not exist or is ambiguous in Europe/Paris.
    #[error("heure locale {0} introuvable en Europe/Paris")]
    LocalTime(String),
}

/// Classifies days and instants for one académie.
#[derive(Debug, Clone)]
pub struct Window<'c> {
    calendar: &'c Calendar,
    academie: &'c Academie,
    allow_draft: bool,
}

impl<'c> Window<'c> {
    /// The window of `academie` (a code of `calendar`); draft years are used
    /// only when `allow_draft`.
    pub fn new(
        calendar: &'c Calendar,
        academie: &str,
        allow_draft: bool,
    ) -> Result<Self, ClassifyError> {
        let academie = calendar
            .academies
            .get(academie)
            .ok_or_else(|| ClassifyError::UnknownAcademie(academie.to_owned()))?;
        if let Err(why) = &academie.zone {
            return Err(ClassifyError::Uncovered {
                name: academie.name.clone(),
                why: why.clone(),
            });
        }
        Ok(Self {
            calendar,
            academie,
            allow_draft,
        })
    }

    /// The académie.
    pub fn academie(&self) -> &Academie {
        self.academie
    }

    /// What kind of day `date` (Paris calendar date) is.
    pub fn day(&self, date: NaiveDate) -> Result<DayClass, ClassifyError> {
        let first = school_year_start(date);
        let name = format!("{first}-{}", first + 1);
        let year = self.calendar.years.get(&first);
        let dates = match year {
            None => {
                return Err(ClassifyError::MissingYear {
                    year: name,
                    detail: String::new(),
                    date: date.format("%d/%m/%Y").to_string(),
                });
            }
            Some(y) if y.status == YearStatus::Draft && !self.allow_draft => {
                return Err(ClassifyError::DraftYear { year: name });
            }
            Some(y) => y.dates.as_ref().ok_or_else(|| ClassifyError::MissingYear {
                year: name.clone(),
                detail: format!(" : {}", y.source),
                date: date.format("%d/%m/%Y").to_string(),
            })?,
        };
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            return Ok(DayClass::Weekend);
        }
        if let Some(holiday) = public_holiday(date, self.academie.alsace_moselle) {
            return Ok(DayClass::PublicHoliday(holiday));
        }
        if date < dates.rentree || date >= dates.summer {
            return Ok(DayClass::SchoolHoliday("Vacances d'été".to_owned()));
        }
        let zone = self
            .academie
            .zone
            .as_ref()
            .map_err(|why| ClassifyError::Uncovered {
                name: self.academie.name.clone(),
                why: why.clone(),
            })?;
        let holiday = dates
            .holidays
            .get(zone)
            .and_then(|periods| periods.iter().find(|h| h.from <= date && date < h.resume));
        Ok(match holiday {
            Some(h) => DayClass::SchoolHoliday(h.name.clone()),
            None => DayClass::SchoolDay,
        })
    }

    /// Whether the instant `at` is in the window.
    pub fn contains(&self, at: DateTime<Utc>) -> Result<bool, ClassifyError> {
        let local = at.with_timezone(&Paris);
        let hour = local.hour();
        if !(WINDOW_START_HOUR..WINDOW_END_HOUR).contains(&hour) {
            return Ok(false);
        }
        Ok(self.day(local.date_naive())? == DayClass::SchoolDay)
    }

    /// `[start, end)` split into consecutive stretches, each entirely in or
    /// out of the window, in order.
    pub fn split(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<Stretch>, ClassifyError> {
        let mut stretches: Vec<Stretch> = Vec::new();
        let mut push = |from: DateTime<Utc>, to: DateTime<Utc>, in_window: bool| {
            let (from, to) = (from.max(start), to.min(end));
            if from >= to {
                return;
            }
            match stretches.last_mut() {
                Some(last) if last.in_window == in_window && last.end == from => last.end = to,
                _ => stretches.push(Stretch {
                    start: from,
                    end: to,
                    in_window,
                }),
            }
        };
        let mut date = start.with_timezone(&Paris).date_naive();
        let last = end.with_timezone(&Paris).date_naive();
        while date <= last {
            let midnight = paris_instant(date, NaiveTime::MIN)?;
            let next_day = date
                .checked_add_days(Days::new(1))
                .ok_or_else(|| ClassifyError::LocalTime(date.to_string()))?;
            let next_midnight = paris_instant(next_day, NaiveTime::MIN)?;
            if self.day(date)? == DayClass::SchoolDay {
                let open = paris_instant(date, hour(WINDOW_START_HOUR)?)?;
                let close = paris_instant(date, hour(WINDOW_END_HOUR)?)?;
                push(midnight, open, false);
                push(open, close, true);
                push(close, next_midnight, false);
            } else {
                push(midnight, next_midnight, false);
            }
            date = next_day;
        }
        Ok(stretches)
    }
}

/// A stretch of time wholly in or out of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stretch {
    /// Start (included).
    pub start: DateTime<Utc>,
    /// End (excluded).
    pub end: DateTime<Utc>,
    /// In the window?
    pub in_window: bool,
}

fn hour(h: u32) -> Result<NaiveTime, ClassifyError> {
    NaiveTime::from_hms_opt(h, 0, 0).ok_or_else(|| ClassifyError::LocalTime(format!("{h}:00")))
}

/// The UTC instant of a Paris wall-clock time. Midnight, 8h and 22h exist
/// exactly once every day in Europe/Paris (the clock changes at 2h/3h).
pub fn paris_instant(date: NaiveDate, time: NaiveTime) -> Result<DateTime<Utc>, ClassifyError> {
    Paris
        .from_local_datetime(&date.and_time(time))
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| ClassifyError::LocalTime(format!("{date} {time}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn at(date: NaiveDate, h: u32, m: u32, s: u32) -> DateTime<Utc> {
        paris_instant(date, NaiveTime::from_hms_opt(h, m, s).unwrap()).unwrap()
    }

    fn calendar() -> Calendar {
        Calendar::embedded().unwrap()
    }

    #[test]
    fn school_day_boundaries_at_8h_and_22h_paris_time() {
        let calendar = calendar();
        let w = Window::new(&calendar, "rennes", true).unwrap();
        let monday = d(2027, 1, 11);
        assert_eq!(monday.weekday(), Weekday::Mon);
        assert_eq!(w.day(monday).unwrap(), DayClass::SchoolDay);
        assert!(!w.contains(at(monday, 7, 59, 59)).unwrap());
        assert!(w.contains(at(monday, 8, 0, 0)).unwrap());
        assert!(w.contains(at(monday, 21, 59, 59)).unwrap());
        assert!(!w.contains(at(monday, 22, 0, 0)).unwrap());
        // In winter Paris is UTC+1: 8h Paris is 7h UTC.
        assert_eq!(at(monday, 8, 0, 0).hour(), 7);
    }

    #[test]
    fn saturday_is_outside() {
        let calendar = calendar();
        let w = Window::new(&calendar, "rennes", true).unwrap();
        let saturday = d(2027, 1, 16);
        assert_eq!(w.day(saturday).unwrap(), DayClass::Weekend);
        assert!(!w.contains(at(saturday, 10, 0, 0)).unwrap());
    }

    #[test]
    fn a_zone_a_holiday_is_a_school_day_in_zone_b() {
        let calendar = calendar();
        let lyon = Window::new(&calendar, "lyon", true).unwrap();
        let rennes = Window::new(&calendar, "rennes", true).unwrap();
        // Monday 15 February 2027: zone A on winter holidays, zone B not yet.
        let monday = d(2027, 2, 15);
        assert_eq!(
            lyon.day(monday).unwrap(),
            DayClass::SchoolHoliday("Vacances d'hiver".to_owned())
        );
        assert_eq!(rennes.day(monday).unwrap(), DayClass::SchoolDay);
        assert!(!lyon.contains(at(monday, 10, 0, 0)).unwrap());
        assert!(rennes.contains(at(monday, 10, 0, 0)).unwrap());
    }

    #[test]
    fn holiday_bounds_follow_saturday_from_monday_resume() {
        let calendar = calendar();
        let lyon = Window::new(&calendar, "lyon", true).unwrap();
        // "du samedi 13 février au lundi 1er mars 2027" for zone A.
        assert_eq!(
            lyon.day(d(2027, 2, 12)).unwrap(),
            DayClass::SchoolDay,
            "Friday before"
        );
        assert_eq!(lyon.day(d(2027, 2, 13)).unwrap(), DayClass::Weekend);
        assert!(matches!(
            lyon.day(d(2027, 2, 26)).unwrap(),
            DayClass::SchoolHoliday(_)
        ));
        assert_eq!(
            lyon.day(d(2027, 3, 1)).unwrap(),
            DayClass::SchoolDay,
            "classes resume"
        );
        assert!(lyon.contains(at(d(2027, 3, 1), 8, 0, 0)).unwrap());
        assert!(!lyon.contains(at(d(2027, 2, 12), 22, 0, 0)).unwrap());
    }

    #[test]
    fn public_holidays_are_outside() {
        let calendar = calendar();
        let paris = Window::new(&calendar, "paris", true).unwrap();
        assert_eq!(
            paris.day(d(2027, 5, 6)).unwrap(),
            DayClass::PublicHoliday("Ascension")
        );
        assert!(!paris.contains(at(d(2027, 5, 6), 10, 0, 0)).unwrap());
        assert_eq!(
            paris.day(d(2026, 11, 11)).unwrap(),
            DayClass::PublicHoliday("Armistice 1918")
        );
        // Whit Monday 2027 (17 May) with its Tuesday as the positive control.
        assert_eq!(
            paris.day(d(2027, 5, 17)).unwrap(),
            DayClass::PublicHoliday("Lundi de Pentecôte")
        );
        assert_eq!(paris.day(d(2027, 5, 18)).unwrap(), DayClass::SchoolDay);
        let strasbourg = Window::new(&calendar, "strasbourg", true).unwrap();
        assert_eq!(paris.day(d(2027, 3, 26)).unwrap(), DayClass::SchoolDay);
        assert_eq!(
            strasbourg.day(d(2027, 3, 26)).unwrap(),
            DayClass::PublicHoliday("Vendredi saint")
        );
    }

    #[test]
    fn dst_days_keep_the_window_on_the_wall_clock() {
        let calendar = calendar();
        let rennes = Window::new(&calendar, "rennes", true).unwrap();
        // Clocks go forward on Sunday 28 March 2027 and back on Sunday 25
        // October 2026: both Sundays are out of the window, with 23 and 25
        // hours; the Mondays after have their window at 8h local.
        let spring = rennes
            .split(at(d(2027, 3, 28), 0, 0, 0), at(d(2027, 3, 29), 0, 0, 0))
            .unwrap();
        assert_eq!(spring.len(), 1);
        assert_eq!((spring[0].end - spring[0].start).num_hours(), 23);
        assert!(!spring[0].in_window);
        // 29 March 2027 is Easter Monday: take Tuesday 30 March.
        let tuesday = d(2027, 3, 30);
        assert_eq!(at(tuesday, 8, 0, 0).hour(), 6, "summer time: UTC+2");
        let autumn = rennes
            .split(at(d(2026, 10, 25), 0, 0, 0), at(d(2026, 10, 26), 0, 0, 0))
            .unwrap();
        assert_eq!((autumn[0].end - autumn[0].start).num_hours(), 25);
        // Monday 26 October 2026 is in the autumn holidays: a whole day out.
        assert!(matches!(
            rennes.day(d(2026, 10, 26)).unwrap(),
            DayClass::SchoolHoliday(_)
        ));
        // Two school weeks with the change between them: the window is 14 h
        // on each school day whatever the offset (Easter Monday excluded).
        let weeks = rennes
            .split(at(d(2027, 3, 22), 0, 0, 0), at(d(2027, 4, 3), 0, 0, 0))
            .unwrap();
        let in_window: i64 = weeks
            .iter()
            .filter(|s| s.in_window)
            .map(|s| (s.end - s.start).num_hours())
            .sum();
        assert_eq!(in_window, 9 * 14, "5 days, then Tuesday to Friday");
    }

    #[test]
    fn a_missing_year_is_refused_naming_it_and_a_draft_needs_permission() {
        let calendar = calendar();
        let w = Window::new(&calendar, "rennes", true).unwrap();
        let err = w.day(d(2027, 9, 6)).unwrap_err();
        assert!(matches!(&err, ClassifyError::MissingYear { year, .. } if year == "2027-2028"));
        assert!(err.to_string().contains("2027-2028"));
        let err = w.day(d(2025, 11, 3)).unwrap_err();
        assert!(matches!(&err, ClassifyError::MissingYear { year, .. } if year == "2025-2026"));
        let strict = Window::new(&calendar, "rennes", false).unwrap();
        assert!(matches!(
            strict.day(d(2027, 1, 11)).unwrap_err(),
            ClassifyError::DraftYear { .. }
        ));
        assert!(w.day(d(2027, 1, 11)).is_ok(), "positive control");
    }

    #[test]
    fn uncovered_and_unknown_academies_are_refused() {
        let calendar = calendar();
        assert!(Window::new(&calendar, "rennes", false).is_ok());
        let err = Window::new(&calendar, "corse", false).unwrap_err();
        assert!(matches!(err, ClassifyError::Uncovered { .. }));
        assert!(err.to_string().contains("Corse"));
        assert!(matches!(
            Window::new(&calendar, "atlantis", false).unwrap_err(),
            ClassifyError::UnknownAcademie(_)
        ));
    }

    #[test]
    fn summer_starts_on_the_given_saturday() {
        let calendar = calendar();
        let w = Window::new(&calendar, "paris", true).unwrap();
        assert_eq!(w.day(d(2027, 7, 2)).unwrap(), DayClass::SchoolDay);
        assert!(matches!(
            w.day(d(2027, 7, 5)).unwrap(),
            DayClass::SchoolHoliday(_)
        ));
        assert!(matches!(
            w.day(d(2027, 8, 31)).unwrap(),
            DayClass::SchoolHoliday(_)
        ));
    }
}
