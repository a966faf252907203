//! The directory's model of AAF entries (domain reference §3): persons
//! (pupils, guardians including legal persons, staff), structures (schools),
//! subjects (matières) and MEF levels, built from the records of the
//! exports. Both the 2nd-degree attribute names and the 1st-degree (ONDE,
//! `ENT1D`) ones are understood.
//!
//! Each AAF attribute sets one field of the model ([`Person::apply`],
//! [`Structure::apply`]), so that an `addRequest` (all attributes) and a
//! `modifyRequest` (`replace` of some attributes) go through the same code.
//! Class and group labels and school codes are resolved against the
//! structures when a person is imported, so that a login needs one read.
//! Profiles (`National_*`) are derived from the category and the function
//! codes through [`ProfileRules`], which is configuration.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sso_core::{Profile, Uai};

use crate::names::Category;

/// What kind of person an entry is (from `categoriePersonne`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PersonKind {
    /// `Eleve`.
    Pupil,
    /// `PersRelEleve`: parent, guardian, or a legal person (organisme).
    Guardian,
    /// `PersEducNat`: teachers and other staff.
    Staff,
}

impl PersonKind {
    /// The kind for a category, `None` for non-person categories.
    pub fn of(category: Category) -> Option<Self> {
        match category {
            Category::Eleve => Some(Self::Pupil),
            Category::PersRelEleve => Some(Self::Guardian),
            Category::PersEducNat => Some(Self::Staff),
            _ => None,
        }
    }
}

/// Membership of a class or a group of a school.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The structure's AAF id.
    #[serde(rename = "s")]
    pub structure: String,
    /// The school's UAI, when the structure is known.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub uai: Option<String>,
    /// The class or group code.
    #[serde(rename = "c")]
    pub code: String,
    /// Its label (the code when the structure does not give one).
    #[serde(rename = "l")]
    pub label: String,
}

/// A pupil's link to a guardian (`ENTElevePersRelEleve`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardianLink {
    /// The guardian's AAF id.
    pub id: String,
    /// Legal responsibility (4th field = `1`).
    pub legal: bool,
}

/// A staff function in a structure (`ENTPersonFonctions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    /// The structure's AAF id.
    #[serde(rename = "s")]
    pub structure: String,
    /// The function code (`ENS`, `DIR`, ...).
    #[serde(rename = "f")]
    pub code: String,
    /// The discipline code (`L0202`), absent for `-`.
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub discipline: Option<String>,
    /// The discipline label.
    #[serde(rename = "dl", default, skip_serializing_if = "Option::is_none")]
    pub discipline_label: Option<String>,
}

/// A class or group taught, with the subject (`ENTAuxEnsClassesMatieres`,
/// `ENTAuxEnsGroupesMatieres`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Teaching {
    /// The structure's AAF id.
    #[serde(rename = "s")]
    pub structure: String,
    /// The class or group code.
    #[serde(rename = "c")]
    pub code: String,
    /// Its label (the code when the structure does not give one).
    #[serde(rename = "l")]
    pub label: String,
    /// The subject's id.
    #[serde(rename = "m")]
    pub subject: String,
    /// The subject's label when known.
    #[serde(rename = "ml", default, skip_serializing_if = "Option::is_none")]
    pub subject_label: Option<String>,
    /// A group (`ENTAuxEnsGroupesMatieres`) rather than a class.
    #[serde(rename = "g", default, skip_serializing_if = "std::ops::Not::not")]
    pub group: bool,
}

/// One person of the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// AAF id (`identifier/id`, also `ENTPersonJointure`).
    pub id: String,
    /// Pupil, guardian or staff.
    pub kind: PersonKind,
    /// Family name (or a legal person's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Civility (`M.`, `Mme`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub civility: Option<String>,
    /// Date of birth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<NaiveDate>,
    /// E-mail address (academic address for staff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Structures the person is attached to (AAF ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub structures: Vec<String>,
    /// UAIs of those structures, resolved at import.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uais: Vec<String>,
    /// Classes (pupils).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<Membership>,
    /// Groups (pupils).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Membership>,
    /// MEF id (2nd degree pupils).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mef: Option<String>,
    /// MEF-STAT4 level code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mef_stat4: Option<String>,
    /// 1st-degree level (`CP` ... `CM2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// 1st-degree cycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle: Option<String>,
    /// Guardians of a pupil.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardians: Vec<GuardianLink>,
    /// A guardian that is a legal person (organisme).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legal_person: bool,
    /// Staff functions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<Function>,
    /// Classes and groups taught.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teaching: Vec<Teaching>,
    /// SDET profiles, derived.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<Profile>,
    /// Set when the person left the directory (deleted, or absent from a
    /// complete export): kept inactive, no login, purged after the retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absent_since: Option<NaiveDate>,
}

/// A structure (school, service).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Structure {
    /// AAF id.
    pub id: String,
    /// UAI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uai: Option<String>,
    /// Usual name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `COLLEGE`, `LYCEE`, `ECOLE`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Académie code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub academie: Option<String>,
    /// `PU` (public) or `PR` (private under contract).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
    /// Commune.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commune: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Département code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub departement: Option<String>,
    /// Bassin (2nd degree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bassin: Option<String>,
    /// Circonscription (1st degree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circonscription: Option<String>,
    /// Class labels by code.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub classes: BTreeMap<String, String>,
    /// Group labels by code.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, String>,
}

/// The reference data of one académie's directory: structures, subject and
/// MEF labels. Small (thousands of entries): kept whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct References {
    /// Structures by AAF id.
    pub structures: BTreeMap<String, Structure>,
    /// Subject labels by id.
    pub subjects: BTreeMap<String, String>,
    /// MEF labels by id.
    pub mefs: BTreeMap<String, String>,
}

/// Profile derivation (domain reference §3), configuration: staff profiles
/// come from their function codes; sources disagree on a few codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRules {
    /// Profile for each function code.
    pub functions: BTreeMap<String, Profile>,
    /// Profile of staff whose function codes are all unknown (none: no profile,
    /// so no access that requires one).
    #[serde(default)]
    pub default_staff: Option<Profile>,
}

impl Default for ProfileRules {
    fn default() -> Self {
        let table: [(&str, Profile); 21] = [
            ("ENS", Profile::Ens),
            ("FCA", Profile::Ens),
            ("IS", Profile::Ens),
            ("PPA", Profile::Ens),
            ("DIR", Profile::Dir),
            ("DEC", Profile::Dir),
            ("DSES", Profile::Dir),
            ("AED", Profile::Evs),
            ("AES", Profile::Evs),
            ("EDU", Profile::Evs),
            ("SUR", Profile::Evs),
            ("ADF", Profile::Eta),
            ("ADM", Profile::Eta),
            ("LAB", Profile::Eta),
            ("MDS", Profile::Eta),
            ("OUV", Profile::Eta),
            ("ORI", Profile::Eta),
            ("DOC", Profile::Doc),
            ("INS", Profile::Aca),
            ("INJ", Profile::Aca),
            ("CTR", Profile::Aca),
        ];
        Self {
            functions: table
                .into_iter()
                .map(|(code, profile)| (code.to_owned(), profile))
                .collect(),
            default_staff: None,
        }
    }
}

impl ProfileRules {
    /// The profiles of a person, from their kind and functions.
    pub fn derive(&self, person: &Person) -> Vec<Profile> {
        let mut profiles = match person.kind {
            PersonKind::Pupil => vec![Profile::Elv],
            PersonKind::Guardian => vec![Profile::Tut],
            PersonKind::Staff => person
                .functions
                .iter()
                .filter_map(|f| self.functions.get(&f.code).copied())
                .collect(),
        };
        if profiles.is_empty()
            && person.kind == PersonKind::Staff
            && let Some(default) = self.default_staff
        {
            profiles.push(default);
        }
        profiles.sort();
        profiles.dedup();
        profiles
    }
}

/// A value that could not be read, reported with the record and import
/// going on (the field is left empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldWarning {
    /// The AAF attribute.
    pub attribute: String,
    /// What is wrong.
    pub reason: String,
}

fn single(values: &[String]) -> Option<String> {
    values
        .first()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Splits a `$`-separated value into its fields.
fn fields(value: &str) -> Vec<&str> {
    value.split('$').map(str::trim).collect()
}

fn meaningful(field: Option<&&str>) -> Option<String> {
    field
        .map(|f| (*f).to_owned())
        .filter(|f| !f.is_empty() && f != "-")
}

/// Reads `dd/MM/yyyy` (AAF) or `yyyy-MM-dd`.
fn parse_date(value: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(value, "%d/%m/%Y")
        .or_else(|_| NaiveDate::parse_from_str(value, "%Y-%m-%d"))
        .ok()
}

impl Person {
    /// An empty person of the given kind.
    pub fn new(id: impl Into<String>, kind: PersonKind) -> Self {
        Self {
            id: id.into(),
            kind,
            surname: None,
            given_name: None,
            civility: None,
            birth_date: None,
            email: None,
            structures: Vec::new(),
            uais: Vec::new(),
            classes: Vec::new(),
            groups: Vec::new(),
            mef: None,
            mef_stat4: None,
            level: None,
            cycle: None,
            guardians: Vec::new(),
            legal_person: false,
            functions: Vec::new(),
            teaching: Vec::new(),
            profiles: Vec::new(),
            absent_since: None,
        }
    }

    /// Sets the field an AAF attribute carries (2nd- or 1st-degree name);
    /// unknown attributes are ignored (the AAF carries many the gateway does
    /// not use, such as `ENTEleveINE`, which it must not keep). Returns a
    /// warning for a value that could not be read.
    pub fn apply(
        &mut self,
        name: &str,
        values: &[String],
        references: &References,
    ) -> Option<FieldWarning> {
        let warn = |reason: String| {
            Some(FieldWarning {
                attribute: name.to_owned(),
                reason,
            })
        };
        match name {
            "sn" | "ENTPersonNom" => self.surname = single(values),
            "givenName" | "ENTPersonPrenom" => self.given_name = single(values),
            "personalTitle" => self.civility = single(values),
            "mail" => self.email = single(values).map(|m| m.to_lowercase()),
            "ENTPersonDateNaissance" => {
                self.birth_date = None;
                if let Some(value) = single(values) {
                    match parse_date(&value) {
                        Some(date) => self.birth_date = Some(date),
                        None => return warn(format!("{value:?} is not a date dd/MM/yyyy")),
                    }
                }
            }
            "ENTPersonStructRattach" => {
                self.structures = values
                    .iter()
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .collect();
                self.resolve_uais(references);
            }
            "ENTEleveClasses" => {
                self.classes = memberships(values, references, |s| &s.classes);
            }
            "ENTEleveGroupes" => {
                self.groups = memberships(values, references, |s| &s.groups);
            }
            "ENTEleveMEF" => self.mef = single(values),
            "ENTEleveMEFSTAT4" => self.mef_stat4 = single(values),
            "ENTEleveNiveau" => self.level = single(values),
            "ENTEleveCycle" => self.cycle = single(values),
            "ENTElevePersRelEleve" => {
                let mut bad = None;
                self.guardians = values
                    .iter()
                    .filter_map(|value| {
                        let parts = fields(value);
                        match parts.first().filter(|id| !id.is_empty()) {
                            Some(id) => Some(GuardianLink {
                                id: (*id).to_owned(),
                                legal: parts.get(3) == Some(&"1"),
                            }),
                            None => {
                                bad = Some(value.clone());
                                None
                            }
                        }
                    })
                    .collect();
                if let Some(value) = bad {
                    return warn(format!("{value:?} has no guardian id"));
                }
            }
            "ENTPersRelEleveOrganisme" => {
                self.legal_person = single(values).as_deref() == Some("1");
            }
            "ENTPersonFonctions" => {
                self.functions = values
                    .iter()
                    .filter_map(|value| {
                        let parts = fields(value);
                        let structure = meaningful(parts.first())?;
                        let code = meaningful(parts.get(1))?;
                        Some(Function {
                            structure,
                            code,
                            discipline: meaningful(parts.get(3)),
                            discipline_label: meaningful(parts.get(4)),
                        })
                    })
                    .collect();
                let from_functions: Vec<String> =
                    self.functions.iter().map(|f| f.structure.clone()).collect();
                for structure in from_functions {
                    if !self.structures.contains(&structure) {
                        self.structures.push(structure);
                    }
                }
                self.resolve_uais(references);
            }
            "ENTAuxEnsClassesMatieres" | "ENTAuxEnsGroupesMatieres" => {
                let groups = name == "ENTAuxEnsGroupesMatieres";
                self.teaching.retain(|t| t.group != groups);
                self.teaching.extend(values.iter().filter_map(|value| {
                    let parts = fields(value);
                    let structure = meaningful(parts.first())?;
                    let code = meaningful(parts.get(1))?;
                    let subject = meaningful(parts.get(2))?;
                    let labels = references
                        .structures
                        .get(&structure)
                        .map(|s| if groups { &s.groups } else { &s.classes });
                    Some(Teaching {
                        subject_label: references.subjects.get(&subject).cloned(),
                        label: labels
                            .and_then(|l| l.get(&code).cloned())
                            .unwrap_or_else(|| code.clone()),
                        structure,
                        code,
                        subject,
                        group: groups,
                    })
                }));
            }
            _ => {}
        }
        None
    }

    fn resolve_uais(&mut self, references: &References) {
        self.uais = self
            .structures
            .iter()
            .filter_map(|id| references.structures.get(id)?.uai.clone())
            .collect();
        self.uais.dedup();
    }

    /// Whether the person may log in (not marked absent).
    pub fn is_active(&self) -> bool {
        self.absent_since.is_none()
    }
}

fn memberships(
    values: &[String],
    references: &References,
    labels: impl Fn(&Structure) -> &BTreeMap<String, String>,
) -> Vec<Membership> {
    values
        .iter()
        .filter_map(|value| {
            let parts = fields(value);
            let structure = meaningful(parts.first())?;
            let code = meaningful(parts.get(1))?;
            let known = references.structures.get(&structure);
            Some(Membership {
                uai: known.and_then(|s| s.uai.clone()),
                label: known
                    .and_then(|s| labels(s).get(&code).cloned())
                    .unwrap_or_else(|| code.clone()),
                structure,
                code,
            })
        })
        .collect()
}

/// Reads `code$libellé` pairs.
fn labelled(values: &[String]) -> BTreeMap<String, String> {
    values
        .iter()
        .filter_map(|value| {
            let (code, label) = value.split_once('$').unwrap_or((value, value));
            let code = code.trim();
            (!code.is_empty()).then(|| (code.to_owned(), label.trim().to_owned()))
        })
        .collect()
}

impl Structure {
    /// Sets the field an AAF attribute carries; returns a warning for a UAI
    /// whose check letter is wrong (kept: warn, do not reject).
    pub fn apply(&mut self, name: &str, values: &[String]) -> Option<FieldWarning> {
        match name {
            "ENTStructureUAI" => {
                self.uai = single(values).map(|u| u.to_uppercase());
                if let Some(uai) = &self.uai
                    && let Err(error) = Uai::parse(uai)
                {
                    return Some(FieldWarning {
                        attribute: name.to_owned(),
                        reason: error.to_string(),
                    });
                }
            }
            "ENTStructureNomCourant" => self.name = single(values),
            "ENTStructureTypeStruct" => self.kind = single(values),
            "ENTServAcAcademie" => self.academie = single(values),
            "ENTEtablissementContrat" => self.contract = single(values),
            "l" => self.commune = single(values),
            "postalCode" => self.postal_code = single(values),
            "ENTStructureDepartement" => self.departement = single(values),
            "ENTEtablissementBassin" => self.bassin = single(values),
            "ENTEcoleCirconscription" => self.circonscription = single(values),
            "ENTStructureClasses" => self.classes = labelled(values),
            "ENTStructureGroupes" => self.groups = labelled(values),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| (*s).to_owned()).collect()
    }

    fn references() -> References {
        let mut school = Structure {
            id: "S0359991".to_owned(),
            ..Structure::default()
        };
        school.apply("ENTStructureUAI", &v(&["0359991v"]));
        school.apply("ENTStructureClasses", &v(&["6A$6EME A", "5B$5EME B"]));
        school.apply("ENTStructureGroupes", &v(&["LV2-ESP$Espagnol LV2"]));
        let mut references = References::default();
        references.structures.insert(school.id.clone(), school);
        references
            .subjects
            .insert("M0202".to_owned(), "LETTRES MODERNES".to_owned());
        references
    }

    #[test]
    fn pupil_attributes_of_both_degrees() {
        let refs = references();
        let mut pupil = Person::new("E1", PersonKind::Pupil);
        for (name, values) in [
            ("sn", v(&["Le Gall"])),
            ("ENTPersonPrenom", v(&["Maëlle"])),
            ("ENTPersonDateNaissance", v(&["03/02/2014"])),
            ("ENTPersonStructRattach", v(&["S0359991"])),
            ("ENTEleveClasses", v(&["S0359991$6A"])),
            ("ENTEleveGroupes", v(&["S0359991$LV2-ESP", "S9999999$X"])),
            (
                "ENTElevePersRelEleve",
                v(&["R1$10$1$1$1$1", "R2$20$0$0$1$0"]),
            ),
            ("ENTEleveINE", v(&["123456789AB"])),
        ] {
            assert_eq!(pupil.apply(name, &values, &refs), None, "{name}");
        }
        assert_eq!(pupil.surname.as_deref(), Some("Le Gall"));
        assert_eq!(pupil.given_name.as_deref(), Some("Maëlle"));
        assert_eq!(pupil.birth_date, NaiveDate::from_ymd_opt(2014, 2, 3));
        assert_eq!(pupil.uais, ["0359991V"]);
        assert_eq!(pupil.classes[0].label, "6EME A");
        assert_eq!(pupil.classes[0].uai.as_deref(), Some("0359991V"));
        assert_eq!(pupil.groups[0].label, "Espagnol LV2");
        assert_eq!(
            pupil.groups[1].label, "X",
            "unknown structure: code as label"
        );
        assert_eq!(
            pupil.guardians,
            [
                GuardianLink {
                    id: "R1".to_owned(),
                    legal: true
                },
                GuardianLink {
                    id: "R2".to_owned(),
                    legal: false
                }
            ]
        );
        let json = serde_json::to_string(&pupil).unwrap();
        assert!(!json.contains("123456789AB"), "the INE is never kept");
        assert_eq!(serde_json::from_str::<Person>(&json).unwrap(), pupil);
    }

    #[test]
    fn bad_values_are_reported_not_fatal() {
        let refs = references();
        let mut pupil = Person::new("E1", PersonKind::Pupil);
        let warning = pupil
            .apply("ENTPersonDateNaissance", &v(&["31/02/2014"]), &refs)
            .unwrap();
        assert_eq!(warning.attribute, "ENTPersonDateNaissance");
        assert_eq!(pupil.birth_date, None);
        let mut school = Structure::default();
        let warning = school.apply("ENTStructureUAI", &v(&["0359991A"])).unwrap();
        assert!(
            warning.reason.contains("check letter"),
            "{}",
            warning.reason
        );
        assert_eq!(school.uai.as_deref(), Some("0359991A"), "kept anyway");
    }

    #[test]
    fn staff_profiles_come_from_function_codes() {
        let refs = references();
        let rules = ProfileRules::default();
        let mut teacher = Person::new("P1", PersonKind::Staff);
        teacher.apply(
            "ENTPersonFonctions",
            &v(&[
                "S0359991$ENS$ENSEIGNEMENT$L0202$LETTRES MODERNES",
                "S0359992$DIR$DIRECTION$-$-",
            ]),
            &refs,
        );
        teacher.apply(
            "ENTAuxEnsClassesMatieres",
            &v(&["S0359991$6A$M0202"]),
            &refs,
        );
        assert_eq!(rules.derive(&teacher), [Profile::Ens, Profile::Dir]);
        assert_eq!(teacher.structures, ["S0359991", "S0359992"]);
        assert_eq!(teacher.functions[1].discipline, None);
        assert_eq!(
            teacher.teaching[0].subject_label.as_deref(),
            Some("LETTRES MODERNES")
        );
        assert_eq!(teacher.teaching[0].label, "6EME A");
        let mut unknown = Person::new("P2", PersonKind::Staff);
        unknown.apply("ENTPersonFonctions", &v(&["S0359991$XYZ$?$-$-"]), &refs);
        assert!(rules.derive(&unknown).is_empty());
        let lenient = ProfileRules {
            default_staff: Some(Profile::Eta),
            ..ProfileRules::default()
        };
        assert_eq!(lenient.derive(&unknown), [Profile::Eta]);
        assert_eq!(
            rules.derive(&Person::new("R1", PersonKind::Guardian)),
            [Profile::Tut]
        );
    }
}
