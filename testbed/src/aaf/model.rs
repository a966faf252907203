//! The synthetic population of an AAF export (domain reference §3; brief
//! "Realism" and "Identifiers"): schools, pupils, their families and guardians,
//! staff. Every entity is rebuilt on demand from the spec and its number, so
//! the writer streams and a test can ask what was generated without parsing.
//!
//! Numbering, per degree (1st degree in `0..5_000_000`, 2nd degree in
//! `5_000_000..10_000_000`, so the two exports of one académie never share an
//! id): pupil `n = school * pupils_per_school + index` → `E` + 7 digits; a
//! family is numbered by its first pupil and its guardians `k = 0..3` are
//! `R` + 7 digits of `3n + k`; staff `school * staff_per_school + index` →
//! `P` + 7 digits; structures `S` + the 7 digits of the UAI.
//!
//! Families: pupils come in blocks of 40; in each block the pupils 0–5 form
//! three pairs of siblings (15 % of the pupils have a sibling, with the same
//! guardians and surname), every other pupil is alone; one block in five
//! holds one pupil whose only guardian is a legal person (0.5 % of pupils).
//! A family has one parent (45 %), two parents (50 %) or two parents and a
//! grandparent without legal responsibility (5 %): about 1.5 guardians per
//! pupil.

use chrono::{Datelike, NaiveDate};

use super::names::{
    COMMUNES, Commune, DEPARTEMENTS, Departement, FEMALE, Gender, MALE, PRIVATE_SCHOOL_NAMES,
    PUBLIC_SCHOOL_NAMES, STREETS, SURNAMES,
};
use super::rng::{Rng, Stream, mix};
use super::tables::{Level, SchoolKind, StaffFunction, mef_id, subject_id, subjects_of};
use super::{AafSpec, Category};
use crate::people::Degree;

/// Size of the id space of one degree.
pub(crate) const ID_SPACE: u64 = 5_000_000;
/// Most schools per export (4 départements × 4,000 UAI numbers).
pub(crate) const MAX_SCHOOLS: u32 = 16_000;
/// Most pupils per export, new pupils of a delta included (3 guardian ids each).
pub(crate) const MAX_PUPILS: u64 = (ID_SPACE - 3) / 3;
/// Pupils per block of families.
const BLOCK: u32 = 40;
/// Pupils with a sibling per block (three pairs).
const SIBLINGS_PER_BLOCK: u32 = 6;
/// UAI check letters.
const CHECK_LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPRSTUVWXYZ";

/// A generated school (`EtabEducNat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedSchool {
    /// `ENTStructureJointure`: `S` + the UAI's 7 digits.
    pub id: String,
    /// `ENTStructureUAI`, 7 digits and the check letter.
    pub uai: String,
    /// `ENTStructureNomCourant`.
    pub name: String,
    /// `ENTStructureTypeStruct`.
    pub kind: SchoolKind,
    /// `ENTEtablissementContrat`: `PU` or `PR`.
    pub contract: &'static str,
    /// `l`.
    pub commune: &'static str,
    /// `postalCode`.
    pub postal_code: &'static str,
    /// `ENTStructureDepartement`, e.g. `035`.
    pub departement: &'static str,
    /// `ENTEtablissementBassin`.
    pub bassin: &'static str,
    /// `ENTEcoleCirconscription` (written in the 1st degree only).
    pub circonscription: &'static str,
    /// `ENTStructureClasses`: (code, label).
    pub classes: Vec<(String, String)>,
    /// `ENTStructureGroupes`: (code, label).
    pub groups: Vec<(String, String)>,
}

/// One generated person, as the export describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedPerson {
    /// `identifier/id` and `ENTPersonJointure`.
    pub id: String,
    /// `Eleve`, `PersRelEleve` or `PersEducNat`.
    pub category: Category,
    /// `sn` (`ENTPersonNom` in the 1st degree); a legal person's name.
    pub surname: String,
    /// `givenName` (`ENTPersonPrenom`); `None` for a legal person.
    pub given_name: Option<String>,
    /// `personalTitle` (`M.` or `Mme`); `None` for a legal person.
    pub title: Option<&'static str>,
    /// `mail`; `None` is written as an empty value.
    pub mail: Option<String>,
    /// What depends on the category.
    pub details: PersonDetails,
}

/// Category-specific data of a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonDetails {
    /// A pupil.
    Pupil(PupilData),
    /// A guardian.
    Guardian(GuardianData),
    /// A member of staff.
    Staff(StaffData),
}

/// A pupil's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PupilData {
    /// `ENTEleveINE`, 10 digits and a letter.
    pub ine: String,
    /// `ENTPersonDateNaissance`.
    pub birth_date: NaiveDate,
    /// `ENTPersonStructRattach`: the school's structure id.
    pub structure: String,
    /// `ENTEleveClasses`: `structId$classCode`.
    pub classes: Vec<String>,
    /// `ENTEleveGroupes`: `structId$groupCode`.
    pub groups: Vec<String>,
    /// Level label (`6EME`, `CP`); `ENTEleveNiveau` in the 1st degree.
    pub level: &'static str,
    /// `ENTEleveMEF`: the MEF id (2nd degree only).
    pub mef: Option<String>,
    /// `ENTEleveMEFSTAT4`.
    pub mef_stat4: &'static str,
    /// `ENTEleveCycle` (1st degree only).
    pub cycle: Option<&'static str>,
    /// `ENTElevePersRelEleve`.
    pub guardians: Vec<GuardianLink>,
}

/// One value of `ENTElevePersRelEleve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardianLink {
    /// The guardian's id.
    pub id: String,
    /// Relation code: `10` mother, `20` father, `37` other family member,
    /// `41` legal person (invented, plausible codes).
    pub relation: &'static str,
    /// Financially responsible.
    pub financial: bool,
    /// Legal responsibility (the 4th field).
    pub legal: bool,
    /// To be contacted.
    pub contact: bool,
    /// Parent (paternity/maternity).
    pub paternity: bool,
}

impl GuardianLink {
    /// `id$relation$financial$legal$contact$paternity`.
    pub fn value(&self) -> String {
        let flag = |b: bool| if b { '1' } else { '0' };
        format!(
            "{}${}${}${}${}${}",
            self.id,
            self.relation,
            flag(self.financial),
            flag(self.legal),
            flag(self.contact),
            flag(self.paternity)
        )
    }
}

/// A guardian's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardianData {
    /// `ENTPersonAdresse`.
    pub address: String,
    /// A legal person ("organisme"): `ENTPersRelEleveOrganisme` = `1`.
    pub legal_person: bool,
}

/// A member of staff's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffData {
    /// `ENTPersonDateNaissance`.
    pub birth_date: NaiveDate,
    /// `ENTPersonStructRattach`.
    pub structure: String,
    /// `ENTPersonFonctions`: `structId$CODE$LABEL$DISCIPLINE$DISCIPLINE_LABEL`.
    pub functions: Vec<String>,
    /// `ENTAuxEnsClassesMatieres`: `structId$classCode$matiereId` (2nd degree).
    pub class_subjects: Vec<String>,
    /// `ENTAuxEnsGroupesMatieres`: `structId$groupCode$matiereId` (2nd degree).
    pub group_subjects: Vec<String>,
}

/// The spec and the values derived from it once.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub spec: &'a AafSpec,
    /// E-mail domain of the académie (`ac-rennes.example`).
    pub mail_domain: String,
    /// Calendar year in which the school year of `spec.date` started.
    pub school_year: i32,
    id_base: u64,
    uai_offset: u32,
    organisme_offset: u64,
}

/// Where a pupil sits in its school.
#[derive(Debug, Clone, Copy)]
struct Layout {
    kind: SchoolKind,
    classes_per_level: u32,
}

/// A family: its number (the number of its first pupil) and its guardians.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Family {
    pub owner: u64,
    school: u32,
    roles: [Option<Role>; 3],
}

/// A guardian's role in the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Mother,
    Father,
    Grandparent,
    Organisme,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(spec: &'a AafSpec) -> Self {
        let mut layout = Rng::new(spec.seed, Stream::Layout, &[]);
        let school_year = if spec.date.month() >= 9 {
            spec.date.year()
        } else {
            spec.date.year() - 1
        };
        Self {
            spec,
            mail_domain: format!("{}.example", spec.academie.to_ascii_lowercase()),
            school_year,
            id_base: match spec.degree {
                Degree::First => 0,
                Degree::Second => ID_SPACE,
            },
            uai_offset: u32::try_from(layout.below(4000)).unwrap_or(0),
            organisme_offset: layout.below(5),
        }
    }

    fn pupils_per_school(&self) -> u64 {
        u64::from(self.spec.pupils_per_school)
    }

    /// Pupils of the complete export, demo population aside.
    pub(crate) fn pupil_count(&self) -> u64 {
        u64::from(self.spec.schools) * self.pupils_per_school()
    }

    /// Staff of the complete export, demo population aside.
    pub(crate) fn staff_count(&self) -> u64 {
        u64::from(self.spec.schools) * u64::from(self.spec.staff_per_school)
    }

    fn id(&self, letter: char, number: u64) -> String {
        format!("{letter}{:07}", self.id_base + number)
    }

    /// Pupil id of a pupil number.
    pub(crate) fn pupil_id(&self, number: u64) -> String {
        self.id('E', number)
    }

    /// Guardian id `k` of a family.
    fn guardian_id(&self, owner: u64, k: u64) -> String {
        self.id('R', owner * 3 + k)
    }

    fn kind(&self, school: u32) -> SchoolKind {
        match self.spec.degree {
            Degree::First => SchoolKind::Ecole,
            Degree::Second if school % 3 == 2 => SchoolKind::Lycee,
            Degree::Second => SchoolKind::College,
        }
    }

    fn layout(&self, school: u32) -> Layout {
        let kind = self.kind(school);
        let levels = u32::try_from(kind.levels().len()).unwrap_or(1).max(1);
        let per_level = self.spec.pupils_per_school.div_ceil(levels);
        Layout {
            kind,
            classes_per_level: per_level.div_ceil(kind.class_size()).max(1),
        }
    }

    /// The next school of the same kind, cyclically; `None` if it is the only one.
    pub(crate) fn next_same_kind(&self, school: u32) -> Option<u32> {
        let kind = self.kind(school);
        (1..self.spec.schools)
            .map(|step| (school + step) % self.spec.schools)
            .find(|other| self.kind(*other) == kind)
    }

    fn departement(&self, school: u32) -> Departement {
        let index = usize::try_from(school % 4).unwrap_or(0);
        DEPARTEMENTS.get(index).copied().unwrap_or_default()
    }

    /// The 7 digits of a school's UAI: département, then 1000–4999 (1st
    /// degree) or 5000–8999 (2nd degree).
    fn uai_digits(&self, school: u32) -> String {
        let base = match self.spec.degree {
            Degree::First => 1000,
            Degree::Second => 5000,
        };
        let number = base + (school / 4 + self.uai_offset) % 4000;
        format!("{}{number:04}", self.departement(school).code)
    }

    /// Structure id of a generated school.
    pub(crate) fn structure_id(&self, school: u32) -> String {
        format!("S{}", self.uai_digits(school))
    }

    fn commune(&self, school: u32) -> Commune {
        let code = self.departement(school).code;
        let mut rng = Rng::new(self.spec.seed, Stream::School, &[u64::from(school), 1]);
        let count = COMMUNES.iter().filter(|c| c.departement == code).count() as u64;
        let index = usize::try_from(rng.below(count)).unwrap_or(0);
        COMMUNES
            .iter()
            .filter(|c| c.departement == code)
            .nth(index)
            .copied()
            .unwrap_or_default()
    }

    /// Generated school `school` (no bounds check).
    pub(crate) fn school(&self, school: u32) -> GeneratedSchool {
        let layout = self.layout(school);
        let mut rng = Rng::new(self.spec.seed, Stream::School, &[u64::from(school)]);
        let private = rng.percent(20);
        let qualifier = if private {
            rng.pick(PRIVATE_SCHOOL_NAMES)
        } else {
            rng.pick(PUBLIC_SCHOOL_NAMES)
        };
        let commune = self.commune(school);
        let digits = self.uai_digits(school);
        let mut classes = Vec::new();
        let mut groups = Vec::new();
        for level in layout.kind.levels() {
            for c in 0..layout.classes_per_level {
                classes.push(level.class(c));
            }
            for def in level.groups {
                groups.push(level.group(def));
            }
        }
        GeneratedSchool {
            id: format!("S{digits}"),
            uai: format!("{digits}{}", check_letter(&digits)),
            name: format!("{} {qualifier}", layout.kind.name(private)),
            kind: layout.kind,
            contract: if private { "PR" } else { "PU" },
            commune: commune.name,
            postal_code: commune.postal_code,
            departement: commune.departement,
            bassin: commune.bassin,
            circonscription: commune.circonscription,
            classes,
            groups,
        }
    }

    /// The family of pupil `index` of `school` (an existing pupil).
    pub(crate) fn family_of(&self, school: u32, index: u32) -> Family {
        let local = index % BLOCK;
        let block = index / BLOCK;
        let first = if local < SIBLINGS_PER_BLOCK {
            index & !1
        } else {
            index
        };
        let owner = u64::from(school) * self.pupils_per_school() + u64::from(first);
        let organisme_block =
            (u64::from(school) + u64::from(block) + self.organisme_offset).is_multiple_of(5);
        let position = u64::from(SIBLINGS_PER_BLOCK)
            + mix(self.spec.seed ^ mix(u64::from(school) << 32 | u64::from(block)))
                % u64::from(BLOCK - SIBLINGS_PER_BLOCK);
        if organisme_block && u64::from(local) == position {
            return Family {
                owner,
                school,
                roles: [Some(Role::Organisme), None, None],
            };
        }
        self.family(owner, school)
    }

    /// A family of parents (never a legal person) numbered `owner`.
    pub(crate) fn family(&self, owner: u64, school: u32) -> Family {
        let mut rng = Rng::new(self.spec.seed, Stream::Family, &[owner, 1]);
        let draw = rng.below(100);
        let roles = if draw < 45 {
            let single = if rng.percent(70) {
                Role::Mother
            } else {
                Role::Father
            };
            [Some(single), None, None]
        } else if draw < 95 {
            [Some(Role::Mother), Some(Role::Father), None]
        } else {
            [
                Some(Role::Mother),
                Some(Role::Father),
                Some(Role::Grandparent),
            ]
        };
        Family {
            owner,
            school,
            roles,
        }
    }

    fn family_surname(&self, owner: u64) -> &'static str {
        Rng::new(self.spec.seed, Stream::Family, &[owner, 0]).pick(SURNAMES)
    }

    /// Whether pupil `index` of a school is the first of its family.
    pub(crate) fn is_family_owner(index: u32) -> bool {
        index % BLOCK >= SIBLINGS_PER_BLOCK || index.is_multiple_of(2)
    }

    /// Pupil `index` of `school` (no bounds check).
    pub(crate) fn pupil(&self, school: u32, index: u32) -> GeneratedPerson {
        let number = u64::from(school) * self.pupils_per_school() + u64::from(index);
        let family = self.family_of(school, index);
        self.make_pupil(school, index, number, &family)
    }

    /// A pupil with an explicit number and family (also the new pupils of a delta).
    pub(crate) fn make_pupil(
        &self,
        school: u32,
        index: u32,
        number: u64,
        family: &Family,
    ) -> GeneratedPerson {
        let layout = self.layout(school);
        let levels = layout.kind.levels();
        let level_count = u32::try_from(levels.len()).unwrap_or(1).max(1);
        let level_index = index % level_count;
        let level = levels
            .get(usize::try_from(level_index).unwrap_or(0))
            .copied()
            .unwrap_or_else(|| fallback_level(levels));
        let mut rng = Rng::new(self.spec.seed, Stream::Pupil, &[number]);
        let gender = if rng.percent(50) {
            Gender::Female
        } else {
            Gender::Male
        };
        let given = rng.pick(names_of(gender));
        let surname = self.family_surname(family.owner);
        let late = i32::from(rng.percent(5));
        let birth_year = self.school_year - 6 - level.years_after_cp - late;
        let birth_date = day_of_year(birth_year, rng.below(365));
        let mail = rng.percent(30).then(|| {
            format!(
                "{}.{}{}@eleve.{}",
                mail_part(given),
                mail_part(surname),
                number % 1000,
                self.mail_domain
            )
        });
        let structure = self.structure_id(school);
        let (classes, groups) = self.placement(school, index, number, 0);
        let global = self.id_base + number;
        let ine_number =
            1_000_000_000 + (global * 7919 + self.spec.seed % 1_000_000) % 9_000_000_000;
        let ine = format!("{ine_number:010}{}", letter(ine_number));
        GeneratedPerson {
            id: self.pupil_id(number),
            category: Category::Eleve,
            surname: surname.to_owned(),
            given_name: Some(given.to_owned()),
            title: Some(gender.title()),
            mail,
            details: PersonDetails::Pupil(PupilData {
                ine,
                birth_date,
                structure,
                classes,
                groups,
                level: level.label,
                mef: match self.spec.degree {
                    Degree::First => None,
                    Degree::Second => Some(mef_id(level.mef)),
                },
                mef_stat4: level.mef_stat4,
                cycle: match self.spec.degree {
                    Degree::First => Some(level.cycle),
                    Degree::Second => None,
                },
                guardians: self.links(family),
            }),
        }
    }

    /// Classes and groups of pupil `index` (number `number`) in `school`;
    /// `shift` moves the pupil to another class of the same level.
    pub(crate) fn placement(
        &self,
        school: u32,
        index: u32,
        number: u64,
        shift: u32,
    ) -> (Vec<String>, Vec<String>) {
        let layout = self.layout(school);
        let levels = layout.kind.levels();
        let level_count = u32::try_from(levels.len()).unwrap_or(1).max(1);
        let level = levels
            .get(usize::try_from(index % level_count).unwrap_or(0))
            .copied()
            .unwrap_or_else(|| fallback_level(levels));
        let rank = index / level_count;
        let class = (rank + shift) % layout.classes_per_level;
        let structure = self.structure_id(school);
        let classes = vec![format!("{structure}${}", level.class(class).0)];
        let mut rng = Rng::new(self.spec.seed, Stream::Pupil, &[number, 1]);
        let mut groups = Vec::new();
        let lv2: Vec<_> = level
            .groups
            .iter()
            .filter(|g| g.kind == super::tables::GroupKind::Lv2)
            .collect();
        if !lv2.is_empty() {
            let spanish = rng.percent(60);
            if let Some(def) = lv2.get(usize::from(!spanish)).or(lv2.first()) {
                groups.push(format!("{structure}${}", level.group(def).0));
            }
        }
        for def in level
            .groups
            .iter()
            .filter(|g| g.kind == super::tables::GroupKind::Option)
        {
            if rng.percent(15) {
                groups.push(format!("{structure}${}", level.group(def).0));
            }
        }
        let specialities: Vec<_> = level
            .groups
            .iter()
            .filter(|g| g.kind == super::tables::GroupKind::Speciality)
            .collect();
        if !specialities.is_empty() {
            let count = specialities.len() as u64;
            let first = rng.below(count);
            let second = (first + 1 + rng.below(count - 1)) % count;
            for pick in [first, second] {
                if let Some(def) = specialities.get(usize::try_from(pick).unwrap_or(0)) {
                    groups.push(format!("{structure}${}", level.group(def).0));
                }
            }
        }
        (classes, groups)
    }

    /// The `ENTElevePersRelEleve` links of a family's pupils.
    fn links(&self, family: &Family) -> Vec<GuardianLink> {
        family
            .roles
            .iter()
            .zip(0u64..)
            .filter_map(|(role, k)| role.map(|r| (r, k)))
            .map(|(role, k)| {
                let id = self.guardian_id(family.owner, k);
                match role {
                    Role::Mother | Role::Father => GuardianLink {
                        id,
                        relation: if role == Role::Mother { "10" } else { "20" },
                        financial: true,
                        legal: true,
                        contact: true,
                        paternity: true,
                    },
                    Role::Grandparent => GuardianLink {
                        id,
                        relation: "37",
                        financial: false,
                        legal: false,
                        contact: true,
                        paternity: false,
                    },
                    Role::Organisme => GuardianLink {
                        id,
                        relation: "41",
                        financial: true,
                        legal: true,
                        contact: true,
                        paternity: false,
                    },
                }
            })
            .collect()
    }

    /// The guardians of a family.
    pub(crate) fn guardians(&self, family: &Family) -> Vec<GeneratedPerson> {
        family
            .roles
            .iter()
            .zip(0u64..)
            .filter_map(|(role, k)| role.map(|r| self.guardian(family, r, k)))
            .collect()
    }

    fn guardian(&self, family: &Family, role: Role, k: u64) -> GeneratedPerson {
        let mut rng = Rng::new(self.spec.seed, Stream::Family, &[family.owner, 2 + k]);
        let commune = self.commune(family.school);
        let address = format!(
            "{} {}, {} {}",
            1 + rng.below(120),
            rng.pick(STREETS),
            commune.postal_code,
            commune.name
        );
        let family_surname = self.family_surname(family.owner);
        let id = self.guardian_id(family.owner, k);
        if role == Role::Organisme {
            let departement = self.departement(family.school);
            let name = if rng.percent(70) {
                format!("Aide sociale à l'enfance {}", departement.of_name)
            } else {
                format!("Œuvre Enfance & Familles {}", departement.of_name)
            };
            return GeneratedPerson {
                id,
                category: Category::PersRelEleve,
                surname: name,
                given_name: None,
                title: None,
                mail: rng
                    .percent(50)
                    .then(|| format!("enfance.famille@departement-{}.example", departement.code)),
                details: PersonDetails::Guardian(GuardianData {
                    address,
                    legal_person: true,
                }),
            };
        }
        let gender = match role {
            Role::Mother => Gender::Female,
            Role::Father => Gender::Male,
            Role::Grandparent | Role::Organisme => {
                if rng.percent(60) {
                    Gender::Female
                } else {
                    Gender::Male
                }
            }
        };
        let given = rng.pick(names_of(gender));
        let own_name = rng.pick(SURNAMES);
        let surname = if role == Role::Mother && rng.percent(30) {
            own_name
        } else {
            family_surname
        };
        let mail = rng.percent(70).then(|| {
            format!(
                "{}.{}{}@courriel.example",
                mail_part(given),
                mail_part(surname),
                rng.below(100)
            )
        });
        GeneratedPerson {
            id,
            category: Category::PersRelEleve,
            surname: surname.to_owned(),
            given_name: Some(given.to_owned()),
            title: Some(gender.title()),
            mail,
            details: PersonDetails::Guardian(GuardianData {
                address,
                legal_person: false,
            }),
        }
    }

    /// The function of staff member `index` of a school: one director (index
    /// 0), a few school-life, administrative and documentation staff, teachers.
    fn function(&self, index: u32) -> StaffFunction {
        if index == 0 {
            return StaffFunction::Dir;
        }
        match self.spec.degree {
            Degree::First if index % 12 == 7 => StaffFunction::Aed,
            Degree::First => StaffFunction::Ens,
            Degree::Second => match index % 24 {
                1 | 13 => StaffFunction::Edu,
                2 => StaffFunction::Adf,
                3 => StaffFunction::Doc,
                7 | 19 => StaffFunction::Aed,
                11 => StaffFunction::Ori,
                _ => StaffFunction::Ens,
            },
        }
    }

    /// Staff member `index` of `school` (no bounds check).
    pub(crate) fn staff(&self, school: u32, index: u32) -> GeneratedPerson {
        let number = u64::from(school) * u64::from(self.spec.staff_per_school) + u64::from(index);
        let mut rng = Rng::new(self.spec.seed, Stream::Staff, &[number]);
        let gender = if rng.percent(60) {
            Gender::Female
        } else {
            Gender::Male
        };
        let given = rng.pick(names_of(gender));
        let surname = rng.pick(SURNAMES);
        let birth_year = 1962 + i32::try_from(rng.below(37)).unwrap_or(0);
        let birth_date = day_of_year(birth_year, rng.below(365));
        let function = self.function(index);
        let kind = self.kind(school);
        let subjects: Vec<_> = subjects_of(kind).copied().collect();
        let subject = (function == StaffFunction::Ens)
            .then(|| rng.pick(&subjects))
            .filter(|s| !s.code.is_empty());
        let discipline = match (function, subject) {
            (StaffFunction::Ens, Some(s)) => format!("{}${}", s.code, s.label),
            (StaffFunction::Doc, _) => "L0080$DOCUMENTATION".to_owned(),
            _ => "-$-".to_owned(),
        };
        let mut schools = vec![school];
        if function == StaffFunction::Ens && rng.below(20) == 0 {
            schools.extend(self.next_same_kind(school));
        }
        let mut functions = Vec::new();
        let mut class_subjects = Vec::new();
        let mut group_subjects = Vec::new();
        for s in &schools {
            let structure = self.structure_id(*s);
            functions.push(format!(
                "{structure}${}${}${discipline}",
                function.code(),
                function.label()
            ));
            if let (Some(subject), Degree::Second) = (subject, self.spec.degree) {
                self.teaching(
                    *s,
                    subject.code,
                    &mut rng,
                    &mut class_subjects,
                    &mut group_subjects,
                );
            }
        }
        GeneratedPerson {
            id: self.id('P', number),
            category: Category::PersEducNat,
            surname: surname.to_owned(),
            given_name: Some(given.to_owned()),
            title: Some(gender.title()),
            mail: Some(self.staff_mail(given, surname, number)),
            details: PersonDetails::Staff(StaffData {
                birth_date,
                structure: self.structure_id(school),
                functions,
                class_subjects,
                group_subjects,
            }),
        }
    }

    /// Academic address of a member of staff (unique: the number is in it).
    pub(crate) fn staff_mail(&self, given: &str, surname: &str, number: u64) -> String {
        format!(
            "{}.{}{}@{}",
            mail_part(given),
            mail_part(surname),
            number + 1,
            self.mail_domain
        )
    }

    /// The classes and groups a teacher of `subject` has in `school`: groups of
    /// that subject, and a run of 2–5 classes unless the subject is taught in
    /// language groups only.
    fn teaching(
        &self,
        school: u32,
        subject: &str,
        rng: &mut Rng,
        classes: &mut Vec<String>,
        groups: &mut Vec<String>,
    ) {
        let layout = self.layout(school);
        let structure = self.structure_id(school);
        let matiere = subject_id(subject);
        let mut groups_only = false;
        for level in layout.kind.levels() {
            for def in level.groups.iter().filter(|g| g.subject == subject) {
                groups_only |= def.kind == super::tables::GroupKind::Lv2;
                groups.push(format!("{structure}${}${matiere}", level.group(def).0));
            }
        }
        if groups_only {
            return;
        }
        let levels = layout.kind.levels();
        let total = u64::try_from(levels.len()).unwrap_or(0) * u64::from(layout.classes_per_level);
        let count = (2 + rng.below(4)).min(total);
        let start = rng.below(total);
        for k in 0..count {
            let index = (start + k) % total.max(1);
            let per_level = u64::from(layout.classes_per_level);
            let level = levels.get(usize::try_from(index / per_level).unwrap_or(0));
            if let Some(level) = level {
                let class = u32::try_from(index % per_level).unwrap_or(0);
                classes.push(format!("{structure}${}${matiere}", level.class(class).0));
            }
        }
    }
}

fn fallback_level(levels: &'static [Level]) -> Level {
    levels.first().copied().unwrap_or(Level {
        class_prefix: "",
        label: "",
        numbered: false,
        mef: "",
        mef_stat4: "",
        years_after_cp: 0,
        cycle: "",
        groups: &[],
    })
}

/// First names of a gender.
pub(crate) fn names_of(gender: Gender) -> &'static [&'static str] {
    match gender {
        Gender::Female => FEMALE,
        Gender::Male => MALE,
    }
}

/// Day `day` (0-based, wrapped in the year) of `year`.
fn day_of_year(year: i32, day: u64) -> NaiveDate {
    let ordinal = 1 + u32::try_from(day % 365).unwrap_or(0);
    NaiveDate::from_yo_opt(year, ordinal)
        .or_else(|| NaiveDate::from_yo_opt(year, 1))
        .unwrap_or(NaiveDate::MIN)
}

/// The UAI check letter of 7 digits.
pub(crate) fn check_letter(digits: &str) -> char {
    letter(digits.parse::<u64>().unwrap_or(0))
}

fn letter(number: u64) -> char {
    let index = usize::try_from(number % 23).unwrap_or(0);
    CHECK_LETTERS.get(index).map_or('A', |b| char::from(*b))
}

/// A name as the local part of an e-mail address: lower case, accents
/// removed, spaces to hyphens, apostrophes dropped (`Le Vourc'h` → `le-vourch`).
pub(crate) fn mail_part(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.chars().flat_map(char::to_lowercase) {
        match ch {
            'à' | 'â' | 'ä' => out.push('a'),
            'ç' => out.push('c'),
            'é' | 'è' | 'ê' | 'ë' => out.push('e'),
            'î' | 'ï' => out.push('i'),
            'ô' | 'ö' => out.push('o'),
            'ù' | 'û' | 'ü' => out.push('u'),
            'ÿ' => out.push('y'),
            'œ' => out.push_str("oe"),
            'æ' => out.push_str("ae"),
            ' ' | '-' => out.push('-'),
            c if c.is_ascii_alphanumeric() => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_parts_are_plain_ascii() {
        assert_eq!(mail_part("Le Vourc'h"), "le-vourch");
        assert_eq!(mail_part("Lebœuf"), "leboeuf");
        assert_eq!(mail_part("Françoise-Marie"), "francoise-marie");
        assert_eq!(mail_part("Œuvrard"), "oeuvrard");
        assert_eq!(mail_part("Lætitia"), "laetitia");
        assert_eq!(mail_part("Anaïs"), "anais");
    }

    #[test]
    fn check_letters_match_the_documented_rule() {
        assert_eq!(check_letter("0359990"), 'U');
        assert_eq!(check_letter("0359991"), 'V');
        assert_eq!(check_letter("0359992"), 'W');
    }

    #[test]
    fn families_pair_the_first_six_pupils_of_each_block() {
        assert!(Ctx::is_family_owner(0));
        assert!(!Ctx::is_family_owner(1));
        assert!(!Ctx::is_family_owner(5));
        assert!(Ctx::is_family_owner(6));
        assert!(Ctx::is_family_owner(7));
        assert!(!Ctx::is_family_owner(41));
    }
}
