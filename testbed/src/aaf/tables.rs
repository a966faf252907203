//! School levels, MEFs, subjects, groups and staff functions of the AAF
//! generator (domain reference §3; brief "Realism").
//!
//! MEF codes (11 digits) and MEF-STAT4 codes are plausible values, not the
//! official nomenclature; subject codes follow the `L0202` shape of the
//! discipline codes in `ENTPersonFonctions`.

/// The kind of a school (`ENTStructureTypeStruct`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchoolKind {
    /// École (1st degree).
    Ecole,
    /// Collège (2nd degree).
    College,
    /// Lycée (2nd degree).
    Lycee,
}

impl SchoolKind {
    /// The `ENTStructureTypeStruct` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ecole => "ECOLE",
            Self::College => "COLLEGE",
            Self::Lycee => "LYCEE",
        }
    }

    /// The levels taught, youngest first.
    pub(crate) fn levels(self) -> &'static [Level] {
        match self {
            Self::Ecole => &ECOLE_LEVELS,
            Self::College => &COLLEGE_LEVELS,
            Self::Lycee => &LYCEE_LEVELS,
        }
    }

    /// Pupils per class.
    pub(crate) fn class_size(self) -> u32 {
        match self {
            Self::Ecole => 25,
            Self::College => 28,
            Self::Lycee => 33,
        }
    }

    /// First word(s) of a school's name.
    pub(crate) fn name(self, private: bool) -> &'static str {
        match (self, private) {
            (Self::Ecole, false) => "École élémentaire",
            (Self::Ecole, true) => "École privée",
            (Self::College, false) => "Collège",
            (Self::College, true) => "Collège privé",
            (Self::Lycee, false) => "Lycée",
            (Self::Lycee, true) => "Lycée privé",
        }
    }
}

/// How a pupil comes to be in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupKind {
    /// Second modern language: every pupil of the level is in one of them.
    Lv2,
    /// Optional teaching: some pupils.
    Option,
    /// Speciality (lycée): every pupil takes two.
    Speciality,
}

/// A teaching group of a level (`<level prefix>-<suffix>`, e.g. `5-LV2-ESP`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GroupDef {
    /// Code suffix.
    pub suffix: &'static str,
    /// Label suffix.
    pub label: &'static str,
    /// Subject code taught in it.
    pub subject: &'static str,
    /// How pupils are assigned.
    pub kind: GroupKind,
}

/// One school level.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Level {
    /// Prefix of class codes (`6` → `6A`, `2GT` → `2GT1`, `CE1` → `CE1A`).
    pub class_prefix: &'static str,
    /// Label (`6EME`, `CE1`).
    pub label: &'static str,
    /// Whether classes are numbered (lycée levels) rather than lettered.
    pub numbered: bool,
    /// 11-digit MEF code (2nd degree).
    pub mef: &'static str,
    /// MEF-STAT4 code.
    pub mef_stat4: &'static str,
    /// Years after CP (age at the start of the year is 6 + this).
    pub years_after_cp: i32,
    /// Cycle (1st degree: `2` or `3`).
    pub cycle: &'static str,
    /// Groups of this level.
    pub groups: &'static [GroupDef],
}

const fn level(
    class_prefix: &'static str,
    label: &'static str,
    mef: &'static str,
    mef_stat4: &'static str,
    years_after_cp: i32,
    cycle: &'static str,
    groups: &'static [GroupDef],
) -> Level {
    Level {
        class_prefix,
        label,
        numbered: years_after_cp >= 9,
        mef,
        mef_stat4,
        years_after_cp,
        cycle,
        groups,
    }
}

const fn group(
    suffix: &'static str,
    label: &'static str,
    subject: &'static str,
    kind: GroupKind,
) -> GroupDef {
    GroupDef {
        suffix,
        label,
        subject,
        kind,
    }
}

static NO_GROUPS: [GroupDef; 0] = [];
static COLLEGE_GROUPS: [GroupDef; 3] = [
    group("LV2-ESP", "LV2 ESPAGNOL", "L0426", GroupKind::Lv2),
    group("LV2-ALL", "LV2 ALLEMAND", "L0421", GroupKind::Lv2),
    group("LATIN", "LATIN", "L0201", GroupKind::Option),
];
static SECONDE_GROUPS: [GroupDef; 2] = [
    group("LV2-ESP", "LV2 ESPAGNOL", "L0426", GroupKind::Lv2),
    group("LV2-ALL", "LV2 ALLEMAND", "L0421", GroupKind::Lv2),
];
static CYCLE_TERMINAL_GROUPS: [GroupDef; 6] = [
    group("LV2-ESP", "LV2 ESPAGNOL", "L0426", GroupKind::Lv2),
    group("LV2-ALL", "LV2 ALLEMAND", "L0421", GroupKind::Lv2),
    group(
        "SPE-MATHS",
        "SPECIALITE MATHEMATIQUES",
        "L1300",
        GroupKind::Speciality,
    ),
    group("SPE-SES", "SPECIALITE SES", "L8011", GroupKind::Speciality),
    group(
        "SPE-PC",
        "SPECIALITE PHYSIQUE-CHIMIE",
        "L1500",
        GroupKind::Speciality,
    ),
    group("SPE-SVT", "SPECIALITE SVT", "L1600", GroupKind::Speciality),
];

#[rustfmt::skip]
static ECOLE_LEVELS: [Level; 5] = [
    level("CP", "CP", "", "1111", 0, "2", &NO_GROUPS),
    level("CE1", "CE1", "", "1112", 1, "2", &NO_GROUPS),
    level("CE2", "CE2", "", "1113", 2, "2", &NO_GROUPS),
    level("CM1", "CM1", "", "1114", 3, "3", &NO_GROUPS),
    level("CM2", "CM2", "", "1115", 4, "3", &NO_GROUPS),
];
#[rustfmt::skip]
static COLLEGE_LEVELS: [Level; 4] = [
    level("6", "6EME", "10010012110", "2111", 5, "", &NO_GROUPS),
    level("5", "5EME", "10110001110", "2112", 6, "", &COLLEGE_GROUPS),
    level("4", "4EME", "10210001110", "2115", 7, "", &COLLEGE_GROUPS),
    level("3", "3EME", "10310019110", "2116", 8, "", &COLLEGE_GROUPS),
];
#[rustfmt::skip]
static LYCEE_LEVELS: [Level; 3] = [
    level("2GT", "2NDE GT", "20010018110", "2211", 9, "", &SECONDE_GROUPS),
    level("1G", "1ERE G", "20111010110", "2212", 10, "", &CYCLE_TERMINAL_GROUPS),
    level("TG", "TERM G", "20212010110", "2213", 11, "", &CYCLE_TERMINAL_GROUPS),
];

/// Every 2nd-degree level, for the `MefEducNat` file.
pub(crate) fn second_degree_levels() -> impl Iterator<Item = &'static Level> {
    COLLEGE_LEVELS.iter().chain(LYCEE_LEVELS.iter())
}

/// The level of a MEF-STAT4 code, any degree.
pub(crate) fn level_of_mef_stat4(code: &str) -> Option<&'static Level> {
    ECOLE_LEVELS
        .iter()
        .chain(second_degree_levels())
        .find(|l| l.mef_stat4 == code)
}

impl Level {
    /// Code and label of class number `index` (0-based) of this level:
    /// `6A`/`6EME A`, `CE1B`/`CE1 B`, `2GT3`/`2NDE GT 3`.
    pub(crate) fn class(&self, index: u32) -> (String, String) {
        let suffix = if self.numbered {
            (index + 1).to_string()
        } else {
            letters(index)
        };
        (
            format!("{}{suffix}", self.class_prefix),
            format!("{} {suffix}", self.label),
        )
    }

    /// Code and label of a group of this level: the first character of the
    /// class prefix, then the suffix (`5-LV2-ESP`, `T-SPE-SES`).
    pub(crate) fn group(&self, def: &GroupDef) -> (String, String) {
        (
            format!(
                "{}-{}",
                self.class_prefix.get(..1).unwrap_or_default(),
                def.suffix
            ),
            format!("{} {}", self.label, def.label),
        )
    }
}

/// `A`..`Z`, then `AA`, `AB`...: bijective base 26.
fn letters(index: u32) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(char::from(b'A' + u8::try_from(rem).unwrap_or(0)));
        n = (n - 1) / 26;
    }
    out.iter().rev().collect()
}

/// A subject (`MatiereEducNat`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Subject {
    /// `ENTMatiereCode`, also the discipline code in `ENTPersonFonctions`.
    pub code: &'static str,
    /// `ENTLibelleMatiere`.
    pub label: &'static str,
    /// Taught in collèges.
    pub college: bool,
    /// Taught in lycées.
    pub lycee: bool,
}

const fn subject(code: &'static str, label: &'static str, college: bool, lycee: bool) -> Subject {
    Subject {
        code,
        label,
        college,
        lycee,
    }
}

/// Every subject.
#[rustfmt::skip]
pub(crate) static SUBJECTS: [Subject; 16] = [
    subject("L0202", "LETTRES MODERNES", true, true),
    subject("L1300", "MATHEMATIQUES", true, true),
    subject("L0422", "ANGLAIS", true, true),
    subject("L1000", "HISTOIRE ET GEOGRAPHIE", true, true),
    subject("L1500", "PHYSIQUE-CHIMIE", true, true),
    subject("L1600", "SCIENCES DE LA VIE ET DE LA TERRE", true, true),
    subject("L1900", "EDUCATION PHYSIQUE ET SPORTIVE", true, true),
    subject("L0426", "ESPAGNOL", true, true),
    subject("L0421", "ALLEMAND", true, true),
    subject("L0201", "LETTRES CLASSIQUES", true, false),
    subject("L1400", "TECHNOLOGIE", true, false),
    subject("L1700", "EDUCATION MUSICALE", true, false),
    subject("L1800", "ARTS PLASTIQUES", true, false),
    subject("L0100", "PHILOSOPHIE", false, true),
    subject("L8011", "SCIENCES ECONOMIQUES ET SOCIALES", false, true),
    subject("L0080", "DOCUMENTATION", false, false),
];

/// The subject with this code.
pub(crate) fn subject_by_code(code: &str) -> Option<&'static Subject> {
    SUBJECTS.iter().find(|s| s.code == code)
}

/// The subjects taught in a kind of school.
pub(crate) fn subjects_of(kind: SchoolKind) -> impl Iterator<Item = &'static Subject> {
    SUBJECTS.iter().filter(move |s| match kind {
        SchoolKind::College => s.college,
        SchoolKind::Lycee => s.lycee,
        SchoolKind::Ecole => false,
    })
}

/// `MatiereEducNat` id of a subject code: `M` + code.
pub(crate) fn subject_id(code: &str) -> String {
    format!("M{code}")
}

/// `MefEducNat` id of a MEF code: `F` + code.
pub(crate) fn mef_id(code: &str) -> String {
    format!("F{code}")
}

/// A staff function (`ENTPersonFonctions`, second and third fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffFunction {
    /// `ENS`, teacher.
    Ens,
    /// `DIR`, management.
    Dir,
    /// `EDU`, conseiller principal d'éducation.
    Edu,
    /// `DOC`, documentalist.
    Doc,
    /// `ADF`, administrative staff.
    Adf,
    /// `ORI`, guidance counsellor.
    Ori,
    /// `AED`, assistant d'éducation.
    Aed,
}

impl StaffFunction {
    /// The function code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Ens => "ENS",
            Self::Dir => "DIR",
            Self::Edu => "EDU",
            Self::Doc => "DOC",
            Self::Adf => "ADF",
            Self::Ori => "ORI",
            Self::Aed => "AED",
        }
    }

    /// The function label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ens => "ENSEIGNEMENT",
            Self::Dir => "DIRECTION",
            Self::Edu => "EDUCATION",
            Self::Doc => "DOCUMENTATION",
            Self::Adf => "PERSONNELS ADMINISTRATIFS",
            Self::Ori => "ORIENTATION",
            Self::Aed => "ASSISTANT D'EDUCATION",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_codes_follow_the_usual_shapes() {
        assert_eq!(
            COLLEGE_LEVELS[0].class(0),
            ("6A".to_owned(), "6EME A".to_owned())
        );
        assert_eq!(COLLEGE_LEVELS[1].class(25).0, "5Z");
        assert_eq!(COLLEGE_LEVELS[1].class(26).0, "5AA");
        assert_eq!(
            LYCEE_LEVELS[2].class(1),
            ("TG2".to_owned(), "TERM G 2".to_owned())
        );
        assert_eq!(
            ECOLE_LEVELS[1].class(1),
            ("CE1B".to_owned(), "CE1 B".to_owned())
        );
        assert_eq!(
            COLLEGE_LEVELS[1].group(&COLLEGE_GROUPS[0]),
            ("5-LV2-ESP".to_owned(), "5EME LV2 ESPAGNOL".to_owned())
        );
    }

    #[test]
    fn codes_have_their_documented_lengths_and_groups_name_known_subjects() {
        for l in second_degree_levels() {
            assert_eq!(l.mef.len(), 11);
            assert!(l.mef.bytes().all(|b| b.is_ascii_digit()));
            for g in l.groups {
                assert!(subject_by_code(g.subject).is_some(), "{}", g.subject);
            }
        }
        for l in ECOLE_LEVELS.iter().chain(second_degree_levels()) {
            assert_eq!(l.mef_stat4.len(), 4);
            assert!(level_of_mef_stat4(l.mef_stat4).is_some());
        }
        assert_eq!(subject_id("L0202"), "ML0202");
        assert_eq!(mef_id("10010012110"), "F10010012110");
    }
}
