//! SDET profiles (`National_*`), domain reference §3. GAR writes them in lower
//! case after the underscore (`National_elv`): parsing is case-insensitive.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An SDET national profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Profile {
    /// Pupil (`National_ELV`).
    Elv,
    /// Parent or legal guardian (`National_TUT`).
    Tut,
    /// Teacher (`National_ENS`).
    Ens,
    /// School management (`National_DIR`).
    Dir,
    /// School life (`National_EVS`).
    Evs,
    /// Administrative or technical staff (`National_ETA`).
    Eta,
    /// Académie or inspection (`National_ACA`).
    Aca,
    /// Documentalist (`National_DOC`).
    Doc,
    /// Local authority (`National_COL`).
    Col,
}

/// A value that is not an SDET profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SDET profile {0:?} (expected National_ELV, National_TUT, National_ENS, ...)")]
pub struct ProfileError(pub String);

impl Profile {
    /// Every profile, in SDET order.
    pub const ALL: [Profile; 9] = [
        Profile::Elv,
        Profile::Tut,
        Profile::Ens,
        Profile::Dir,
        Profile::Evs,
        Profile::Eta,
        Profile::Aca,
        Profile::Doc,
        Profile::Col,
    ];

    /// The canonical SDET spelling, e.g. `National_ELV`.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Elv => "National_ELV",
            Profile::Tut => "National_TUT",
            Profile::Ens => "National_ENS",
            Profile::Dir => "National_DIR",
            Profile::Evs => "National_EVS",
            Profile::Eta => "National_ETA",
            Profile::Aca => "National_ACA",
            Profile::Doc => "National_DOC",
            Profile::Col => "National_COL",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|profile| profile.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ProfileError(s.to_owned()))
    }
}

impl TryFrom<String> for Profile {
    type Error = ProfileError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Profile> for String {
    fn from(value: Profile) -> Self {
        value.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively() {
        assert_eq!("National_elv".parse::<Profile>(), Ok(Profile::Elv));
        assert_eq!("NATIONAL_ENS".parse::<Profile>(), Ok(Profile::Ens));
        assert!("National_XYZ".parse::<Profile>().is_err());
        assert!("".parse::<Profile>().is_err());
    }

    #[test]
    fn round_trips_every_profile() {
        for profile in Profile::ALL {
            assert_eq!(profile.as_str().parse::<Profile>(), Ok(profile));
        }
    }
}
