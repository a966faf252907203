//! One statistics cell and its field name in a day hash (see the
//! [module documentation](super), "Key layout"): the hour and the
//! dimensions, each escaped so that `|` separates them unambiguously.

use serde::Serialize;

/// What was counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A login step that ended.
    #[default]
    Login,
    /// An access decision.
    Access,
}

impl Kind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Access => "access",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "login" => Some(Self::Login),
            "access" => Some(Self::Access),
            _ => None,
        }
    }
}

/// The dimensions of one count (empty: unknown).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cell {
    /// Local hour, 0 to 23.
    pub hour: u8,
    /// Login or access.
    pub kind: Kind,
    /// Académie code.
    pub academie: String,
    /// Département code.
    pub departement: String,
    /// Commune.
    pub commune: String,
    /// Circonscription.
    pub circonscription: String,
    /// School (UAI).
    pub uai: String,
    /// Profile.
    pub profile: String,
    /// Upstream IdP id.
    pub idp: String,
    /// Downstream service id (accesses).
    pub service: String,
    /// Downstream protocol (accesses).
    pub protocol: String,
    /// Outcome.
    pub outcome: String,
}

/// Number of parts of a field.
const PARTS: usize = 12;

/// Why a field is not a cell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellError {
    /// Not twelve parts.
    #[error("{0} parts instead of 12")]
    Parts(usize),
    /// The hour is not 00 to 23.
    #[error("hour {0:?} is not 00 to 23")]
    Hour(String),
    /// The kind is neither login nor access.
    #[error("kind {0:?} is neither login nor access")]
    Kind(String),
    /// A `%` not followed by `25` or `7C`.
    #[error("bad escape in {0:?}")]
    Escape(String),
}

impl Cell {
    /// The dimension values after the hour and kind, in field order.
    pub fn dimensions(&self) -> [&str; 10] {
        [
            &self.academie,
            &self.departement,
            &self.commune,
            &self.circonscription,
            &self.uai,
            &self.profile,
            &self.idp,
            &self.service,
            &self.protocol,
            &self.outcome,
        ]
    }

    /// The field name in a day hash.
    pub fn field(&self) -> String {
        let mut field = format!("{:02}|{}", self.hour, self.kind.as_str());
        for value in self.dimensions() {
            field.push('|');
            field.push_str(&escape(value));
        }
        field
    }

    /// A cell from its parts: hour, kind, then the ten dimensions.
    pub fn from_parts(parts: &[&str]) -> Result<Self, CellError> {
        let [
            hour,
            kind,
            academie,
            departement,
            commune,
            circonscription,
            uai,
            profile,
            idp,
            service,
            protocol,
            outcome,
        ] = parts
        else {
            return Err(CellError::Parts(parts.len()));
        };
        let hour_value = hour
            .parse::<u8>()
            .ok()
            .filter(|h| *h < 24 && hour.len() == 2)
            .ok_or_else(|| CellError::Hour((*hour).to_owned()))?;
        Ok(Self {
            hour: hour_value,
            kind: Kind::parse(kind).ok_or_else(|| CellError::Kind((*kind).to_owned()))?,
            academie: (*academie).to_owned(),
            departement: (*departement).to_owned(),
            commune: (*commune).to_owned(),
            circonscription: (*circonscription).to_owned(),
            uai: (*uai).to_owned(),
            profile: (*profile).to_owned(),
            idp: (*idp).to_owned(),
            service: (*service).to_owned(),
            protocol: (*protocol).to_owned(),
            outcome: (*outcome).to_owned(),
        })
    }

    /// The cell of a field name.
    pub fn parse(field: &str) -> Result<Self, CellError> {
        let parts: Vec<String> = field.split('|').map(unescape).collect::<Result<_, _>>()?;
        if parts.len() != PARTS {
            return Err(CellError::Parts(parts.len()));
        }
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        Self::from_parts(&refs)
    }
}

fn escape(value: &str) -> String {
    value.replace('%', "%25").replace('|', "%7C")
}

fn unescape(part: &str) -> Result<String, CellError> {
    let mut out = String::with_capacity(part.len());
    let mut rest = part;
    while let Some(at) = rest.find('%') {
        out.push_str(rest.get(..at).unwrap_or_default());
        let after = rest.get(at..).unwrap_or_default();
        if let Some(tail) = after.strip_prefix("%25") {
            out.push('%');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("%7C") {
            out.push('|');
            rest = tail;
        } else {
            return Err(CellError::Escape(part.to_owned()));
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_round_trips_with_separators_and_percents_in_values() {
        let cell = Cell {
            hour: 8,
            kind: Kind::Access,
            academie: "AC-RENNES".into(),
            commune: "Saint-Malo|50%".into(),
            uai: "0359990U".into(),
            service: "atlas-cas".into(),
            outcome: "granted".into(),
            ..Cell::default()
        };
        let field = cell.field();
        assert_eq!(field.split('|').count(), PARTS);
        assert!(field.starts_with("08|access|AC-RENNES||Saint-Malo%7C50%25|"));
        assert_eq!(Cell::parse(&field), Ok(cell));
    }

    #[test]
    fn malformed_fields_are_refused() {
        let good = Cell::default().field();
        assert!(Cell::parse(&good).is_ok());
        assert_eq!(Cell::parse("08|login"), Err(CellError::Parts(2)));
        let bad_hour = good.replacen("00", "24", 1);
        assert!(matches!(Cell::parse(&bad_hour), Err(CellError::Hour(_))));
        let bad_kind = good.replacen("login", "visit", 1);
        assert!(matches!(Cell::parse(&bad_kind), Err(CellError::Kind(_))));
        let bad_escape = format!("{good}%41");
        assert!(matches!(
            Cell::parse(&bad_escape),
            Err(CellError::Escape(_))
        ));
    }
}
