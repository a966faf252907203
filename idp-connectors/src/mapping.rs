//! Attribute mapping: upstream attributes (SAML attribute names, OpenID
//! Connect claims, trusted headers) to the canonical identity of `sso_core`.
//!
//! The rules are configuration, not code (issue "Core broker": a new identity
//! provider needs no recompilation). Each rule reads one upstream attribute and
//! writes one canonical attribute, optionally splitting multi-values, picking a
//! field of a `$`- or `|`-separated vector, rewriting with a regular
//! expression, or translating through a value table (e.g. ÉduConnect's
//! `FrEduCtPersonAffiliation` = `eleve2d` to the SDET profile `National_ELV`).
//! Values that a rule cannot translate are dropped, never passed through.

use std::collections::BTreeMap;

use regex::Regex;
use serde::Deserialize;
use sso_core::{Identity, Profile, attr};

/// Where the upstream subject (the stable upstream identifier) comes from.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SubjectSource {
    /// The NameID of the assertion (or the `sub` claim, the remote-user header).
    NameId,
    /// The first value of the named upstream attribute.
    Attribute(String),
}

/// One mapping rule, as written in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Upstream attribute name (SAML `Name`, claim or header name).
    pub from: String,
    /// Canonical attribute written (one of `sso_core::attr::ALL`).
    pub to: String,
    /// Split each upstream value on this separator first (multi-values sent as one string).
    #[serde(default)]
    pub split: Option<String>,
    /// Separator of the fields of a vector value (`$` for `FrEduRne`).
    #[serde(default)]
    pub field_separator: Option<String>,
    /// Index of the field to keep (0-based); requires `field_separator`.
    #[serde(default)]
    pub field: Option<usize>,
    /// Regular expression the value must match; values that do not match are dropped.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Replacement using the pattern's groups (`$1|$2`); requires `pattern`.
    #[serde(default)]
    pub replace: Option<String>,
    /// Value translation table; values absent from it are dropped.
    #[serde(default)]
    pub map: Option<BTreeMap<String, String>>,
}

/// A mapping as written in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    /// Where the subject comes from.
    pub subject: SubjectSource,
    /// The rules, applied in order.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
}

/// Why a mapping configuration is refused. `rule` is the 0-based rule index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// `to` names no canonical attribute.
    #[error("rule {rule}: unknown canonical attribute {name:?} in `to`")]
    UnknownAttribute {
        /// Rule index.
        rule: usize,
        /// The name given.
        name: String,
    },
    /// `pattern` is not a valid regular expression.
    #[error("rule {rule}: invalid `pattern`: {reason}")]
    BadPattern {
        /// Rule index.
        rule: usize,
        /// What the regex engine said.
        reason: String,
    },
    /// `replace` without `pattern`, or `field` without `field_separator`.
    #[error("rule {rule}: `{field}` requires `{requires}`")]
    MissingCompanion {
        /// Rule index.
        rule: usize,
        /// The field given.
        field: &'static str,
        /// The field it needs.
        requires: &'static str,
    },
    /// A value of a profile table is not an SDET profile.
    #[error("rule {rule}: `map` value {value:?} is not an SDET profile (National_ELV, ...)")]
    BadProfile {
        /// Rule index.
        rule: usize,
        /// The value given.
        value: String,
    },
    /// An empty separator.
    #[error("rule {rule}: `{field}` must not be empty")]
    EmptySeparator {
        /// Rule index.
        rule: usize,
        /// The field.
        field: &'static str,
    },
}

#[derive(Debug, Clone)]
struct Rule {
    from: String,
    to: String,
    split: Option<String>,
    field: Option<(String, usize)>,
    pattern: Option<(Regex, Option<String>)>,
    map: Option<BTreeMap<String, String>>,
}

/// A validated mapping, ready to apply.
#[derive(Debug, Clone)]
pub struct Mapping {
    subject: SubjectSource,
    rules: Vec<Rule>,
}

/// Upstream attributes as received: name to values.
pub type UpstreamAttributes = BTreeMap<String, Vec<String>>;

/// Why an upstream identity cannot be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// The configured subject source is absent or empty.
    #[error("the upstream identity has no subject ({0})")]
    MissingSubject(String),
}

impl Mapping {
    /// Validates a mapping configuration.
    pub fn new(config: &MappingConfig) -> Result<Self, MappingError> {
        let rules = config
            .rules
            .iter()
            .enumerate()
            .map(|(index, rule)| compile_rule(index, rule))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            subject: config.subject.clone(),
            rules,
        })
    }

    /// The upstream attribute names the mapping reads (rule sources and the
    /// subject attribute), each once, in rule order.
    pub fn upstream_names(&self) -> impl Iterator<Item = &str> {
        let subject = match &self.subject {
            SubjectSource::Attribute(name) => Some(name.as_str()),
            SubjectSource::NameId => None,
        };
        let mut seen = std::collections::BTreeSet::new();
        subject
            .into_iter()
            .chain(self.rules.iter().map(|rule| rule.from.as_str()))
            .filter(move |name| seen.insert(*name))
    }

    /// Builds the canonical identity from the upstream name identifier and attributes.
    pub fn apply(
        &self,
        idp: &str,
        name_id: Option<&str>,
        upstream: &UpstreamAttributes,
        authn_instant: i64,
    ) -> Result<Identity, MapError> {
        let subject = match &self.subject {
            SubjectSource::NameId => name_id.map(str::to_owned),
            SubjectSource::Attribute(name) => upstream
                .get(name)
                .and_then(|values| values.first())
                .cloned(),
        }
        .filter(|subject| !subject.trim().is_empty())
        .ok_or_else(|| {
            MapError::MissingSubject(match &self.subject {
                SubjectSource::NameId => "NameID".to_owned(),
                SubjectSource::Attribute(name) => format!("attribute {name}"),
            })
        })?;
        let mut identity = Identity::new(idp, subject, authn_instant);
        for rule in &self.rules {
            for value in upstream.get(&rule.from).into_iter().flatten() {
                for value in rule.transform(value) {
                    identity.push(&rule.to, value);
                }
            }
        }
        Ok(identity)
    }
}

fn compile_rule(index: usize, rule: &RuleConfig) -> Result<Rule, MappingError> {
    if !attr::ALL.contains(&rule.to.as_str()) {
        return Err(MappingError::UnknownAttribute {
            rule: index,
            name: rule.to.clone(),
        });
    }
    if rule.split.as_deref() == Some("") {
        return Err(MappingError::EmptySeparator {
            rule: index,
            field: "split",
        });
    }
    let field = match (&rule.field_separator, rule.field) {
        (Some(separator), _) if separator.is_empty() => {
            return Err(MappingError::EmptySeparator {
                rule: index,
                field: "field_separator",
            });
        }
        (Some(separator), Some(field)) => Some((separator.clone(), field)),
        (Some(separator), None) => Some((separator.clone(), 0)),
        (None, Some(_)) => {
            return Err(MappingError::MissingCompanion {
                rule: index,
                field: "field",
                requires: "field_separator",
            });
        }
        (None, None) => None,
    };
    let pattern = match (&rule.pattern, &rule.replace) {
        (Some(pattern), replace) => {
            let regex = Regex::new(pattern).map_err(|err| MappingError::BadPattern {
                rule: index,
                reason: err.to_string(),
            })?;
            Some((regex, replace.clone()))
        }
        (None, Some(_)) => {
            return Err(MappingError::MissingCompanion {
                rule: index,
                field: "replace",
                requires: "pattern",
            });
        }
        (None, None) => None,
    };
    if rule.to == attr::PROFILE {
        for value in rule.map.iter().flat_map(BTreeMap::values) {
            if value.parse::<Profile>().is_err() {
                return Err(MappingError::BadProfile {
                    rule: index,
                    value: value.clone(),
                });
            }
        }
    }
    Ok(Rule {
        from: rule.from.clone(),
        to: rule.to.clone(),
        split: rule.split.clone(),
        field,
        pattern,
        map: rule.map.clone(),
    })
}

impl Rule {
    fn transform(&self, value: &str) -> Vec<String> {
        let parts: Vec<&str> = match &self.split {
            Some(separator) => value.split(separator.as_str()).collect(),
            None => vec![value],
        };
        parts
            .into_iter()
            .filter_map(|part| self.transform_one(part.trim()))
            .collect()
    }

    fn transform_one(&self, value: &str) -> Option<String> {
        let mut value = value.to_owned();
        if let Some((separator, index)) = &self.field {
            value = value
                .split(separator.as_str())
                .nth(*index)?
                .trim()
                .to_owned();
        }
        if let Some((regex, replace)) = &self.pattern {
            let captures = regex.captures(&value)?;
            if let Some(template) = replace {
                let mut out = String::new();
                captures.expand(template, &mut out);
                value = out;
            }
        }
        if let Some(map) = &self.map {
            value = map.get(&value)?.clone();
        }
        (!value.is_empty()).then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EDUCONNECT: &str = r#"
subject = { attribute = "urn:oid:1.3.6.1.4.1.20326.10.999.1.57" }
[[rules]]
from = "urn:oid:2.5.4.4"
to = "surname"
[[rules]]
from = "urn:oid:1.3.6.1.4.1.20326.10.999.1.7"
to = "profile"
map = { eleve1d = "National_ELV", eleve2d = "National_ELV", resp1d = "National_TUT", resp2d = "National_TUT" }
[[rules]]
from = "urn:oid:1.3.6.1.4.1.20326.10.999.1.7"
to = "affiliation"
[[rules]]
from = "FrEduCtRefId"
to = "aaf_ref"
pattern = '^\{AAF\}([^|]+)\|[^|]*\|(.+)$'
replace = "$1|$2"
"#;

    fn mapping(text: &str) -> Mapping {
        let config: MappingConfig = toml::from_str(text).unwrap();
        Mapping::new(&config).unwrap()
    }

    fn upstream(pairs: &[(&str, &[&str])]) -> UpstreamAttributes {
        pairs
            .iter()
            .map(|(name, values)| {
                (
                    (*name).to_owned(),
                    values.iter().map(|v| (*v).to_owned()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn educonnect_pupil_is_mapped() {
        let identity = mapping(EDUCONNECT)
            .apply(
                "educonnect",
                Some("transient-123"),
                &upstream(&[
                    ("urn:oid:1.3.6.1.4.1.20326.10.999.1.57", &["ab12"]),
                    ("urn:oid:2.5.4.4", &["Martin"]),
                    ("urn:oid:1.3.6.1.4.1.20326.10.999.1.7", &["eleve2d"]),
                    (
                        "FrEduCtRefId",
                        &["{AAF}AC-RENNES||12345", "{XYZ}ignored", "{AAF}bad"],
                    ),
                ]),
                10,
            )
            .unwrap();
        assert_eq!(identity.subject, "ab12");
        assert_eq!(identity.values(attr::SURNAME), ["Martin"]);
        assert_eq!(identity.profiles(), vec![Profile::Elv]);
        assert_eq!(identity.values(attr::AFFILIATION), ["eleve2d"]);
        assert_eq!(identity.values(attr::AAF_REF), ["AC-RENNES|12345"]);
    }

    #[test]
    fn unknown_affiliation_is_dropped_not_passed_through() {
        let identity = mapping(EDUCONNECT)
            .apply(
                "educonnect",
                None,
                &upstream(&[
                    ("urn:oid:1.3.6.1.4.1.20326.10.999.1.57", &["ab12"]),
                    ("urn:oid:1.3.6.1.4.1.20326.10.999.1.7", &["National_DIR"]),
                ]),
                0,
            )
            .unwrap();
        assert!(identity.profiles().is_empty());
    }

    #[test]
    fn agent_vectors_are_split_and_fielded() {
        let m = mapping(
            r#"
subject = "name_id"
[[rules]]
from = "FrEduRne"
to = "uai"
split = ","
field_separator = "$"
field = 0
[[rules]]
from = "FrEduFonctAdm"
to = "profile"
map = { ENS = "National_ENS", DIR = "National_DIR" }
"#,
        );
        let identity = m
            .apply(
                "agents",
                Some("prof@ac-rennes.fr"),
                &upstream(&[
                    (
                        "FrEduRne",
                        &["0350001A$UAJ$PU$N$T3$LYC$340,0351234B$UAJ$PU$N$T3$CLG$340"],
                    ),
                    ("FrEduFonctAdm", &["ENS"]),
                ]),
                0,
            )
            .unwrap();
        assert_eq!(identity.subject, "prof@ac-rennes.fr");
        assert_eq!(identity.values(attr::UAI), ["0350001A", "0351234B"]);
        assert_eq!(identity.profiles(), vec![Profile::Ens]);
    }

    #[test]
    fn upstream_names_are_listed_once() {
        let m = mapping(EDUCONNECT);
        let names: Vec<&str> = m.upstream_names().collect();
        assert_eq!(
            names,
            [
                "urn:oid:1.3.6.1.4.1.20326.10.999.1.57",
                "urn:oid:2.5.4.4",
                "urn:oid:1.3.6.1.4.1.20326.10.999.1.7",
                "FrEduCtRefId"
            ]
        );
    }

    #[test]
    fn missing_subject_is_an_error() {
        let err = mapping(EDUCONNECT)
            .apply("educonnect", Some("x"), &UpstreamAttributes::new(), 0)
            .unwrap_err();
        assert!(matches!(err, MapError::MissingSubject(_)));
        let err = mapping("subject = \"name_id\"")
            .apply("agents", Some("  "), &UpstreamAttributes::new(), 0)
            .unwrap_err();
        assert!(matches!(err, MapError::MissingSubject(_)));
    }

    fn config_error(text: &str) -> MappingError {
        let config: MappingConfig = toml::from_str(text).unwrap();
        Mapping::new(&config).unwrap_err()
    }

    #[test]
    fn configuration_errors_are_named() {
        assert!(matches!(
            config_error("subject = \"name_id\"\n[[rules]]\nfrom = \"a\"\nto = \"nickname\""),
            MappingError::UnknownAttribute { rule: 0, .. }
        ));
        assert!(matches!(
            config_error(
                "subject = \"name_id\"\n[[rules]]\nfrom = \"a\"\nto = \"uai\"\npattern = \"(\""
            ),
            MappingError::BadPattern { rule: 0, .. }
        ));
        assert!(matches!(
            config_error(
                "subject = \"name_id\"\n[[rules]]\nfrom = \"a\"\nto = \"uai\"\nreplace = \"$1\""
            ),
            MappingError::MissingCompanion {
                field: "replace",
                ..
            }
        ));
        assert!(matches!(
            config_error("subject = \"name_id\"\n[[rules]]\nfrom = \"a\"\nto = \"uai\"\nfield = 2"),
            MappingError::MissingCompanion { field: "field", .. }
        ));
        assert!(matches!(
            config_error(
                "subject = \"name_id\"\n[[rules]]\nfrom = \"a\"\nto = \"profile\"\nmap = { x = \"Prof\" }"
            ),
            MappingError::BadProfile { .. }
        ));
        assert!(matches!(
            config_error(
                "subject = \"name_id\"\n[[rules]]\nfrom = \"a\"\nto = \"uai\"\nsplit = \"\""
            ),
            MappingError::EmptySeparator { field: "split", .. }
        ));
    }
}
