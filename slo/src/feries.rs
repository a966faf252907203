//! French public holidays (jours fériés, code du travail L3133-1), computed
//! rather than listed: fixed dates plus Easter Monday, Ascension and Whit
//! Monday from the Gregorian Easter date; Good Friday and 26 December in
//! Alsace-Moselle (local law). They are not school days (domain reference
//! §5: the contractual window excludes them).

use chrono::{Datelike, Days, NaiveDate};

/// Easter Sunday of `year` (Gregorian calendar, the anonymous
/// "Meeus/Jones/Butcher" computation).
pub fn easter(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// The name of the public holiday on `date`, if it is one.
pub fn public_holiday(date: NaiveDate, alsace_moselle: bool) -> Option<&'static str> {
    let fixed = match (date.month(), date.day()) {
        (1, 1) => Some("Jour de l'an"),
        (5, 1) => Some("Fête du travail"),
        (5, 8) => Some("Victoire 1945"),
        (7, 14) => Some("Fête nationale"),
        (8, 15) => Some("Assomption"),
        (11, 1) => Some("Toussaint"),
        (11, 11) => Some("Armistice 1918"),
        (12, 25) => Some("Noël"),
        (12, 26) if alsace_moselle => Some("Saint-Étienne"),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    let easter = easter(date.year())?;
    let offset = |days: u64| easter.checked_add_days(Days::new(days));
    if Some(date) == offset(1) {
        Some("Lundi de Pâques")
    } else if Some(date) == offset(39) {
        Some("Ascension")
    } else if Some(date) == offset(50) {
        Some("Lundi de Pentecôte")
    } else if alsace_moselle && Some(date) == easter.checked_sub_days(Days::new(2)) {
        Some("Vendredi saint")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn easter_dates_match_the_known_ones() {
        assert_eq!(easter(2024), Some(d(2024, 3, 31)));
        assert_eq!(easter(2025), Some(d(2025, 4, 20)));
        assert_eq!(easter(2026), Some(d(2026, 4, 5)));
        assert_eq!(easter(2027), Some(d(2027, 3, 28)));
        assert_eq!(easter(2028), Some(d(2028, 4, 16)));
    }

    #[test]
    fn movable_and_fixed_holidays() {
        assert_eq!(
            public_holiday(d(2027, 3, 29), false),
            Some("Lundi de Pâques")
        );
        assert_eq!(public_holiday(d(2027, 5, 6), false), Some("Ascension"));
        assert_eq!(
            public_holiday(d(2027, 5, 17), false),
            Some("Lundi de Pentecôte")
        );
        assert_eq!(
            public_holiday(d(2026, 11, 11), false),
            Some("Armistice 1918")
        );
        assert_eq!(public_holiday(d(2027, 5, 5), false), None);
        assert_eq!(public_holiday(d(2027, 3, 26), false), None);
        assert_eq!(public_holiday(d(2027, 3, 26), true), Some("Vendredi saint"));
        assert_eq!(public_holiday(d(2026, 12, 26), true), Some("Saint-Étienne"));
        assert_eq!(public_holiday(d(2026, 12, 26), false), None);
    }
}
