//! Who may read the steering statistics, and which areas (issue 8, "who sees
//! what"; domain reference §5: statistics at the levels école,
//! circonscription, commune or collectivité, département, académie).
//!
//! `[steering]` holds two kinds of grants, checked in this order:
//!
//! - **named administrators** (`[[steering.administrators]]`): a person of
//!   one upstream IdP, named by the identifier that IdP gives or by their
//!   academic e-mail, with explicit scopes (`level:code`, or `national`);
//! - **role rules** (`[[steering.roles]]`): everyone whose function code
//!   (canonical attribute `function`: `FrEduFonctAdm`, or the AAF's
//!   `ENTPersonFonctions` once joined) and/or SDET profile matches, compared
//!   case-insensitively (GAR writes `National_elv`), sees the areas of their
//!   own structures at the rule's level: a director (`DIR`, level `ecole`)
//!   each of the schools where they hold that function, an IEN the
//!   circonscriptions of their schools, local-authority staff the communes
//!   of their structures.
//!
//! The areas of a structure come from the directory's references
//! (`Structure.circonscription`, `commune`, `departement`, `academie`),
//! kept per académie in a small per-replica cache ([`PLACES_TTL`]). When the
//! person is in the directory, a function rule uses the structures where the
//! directory says they hold that function (a teacher in one school and
//! director in another sees only the second); otherwise the school codes
//! (`uai`) of the login.
//!
//! A [`Viewer`]'s label names the grants and their areas, never the person.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;
use sso_core::{Identity, Profile, attr};
use sso_directory::model::{Person, Structure};
use sso_directory::store::{Directory, DirectoryError};
use toml::Spanned;

use crate::config::{ConfigProblem, GatewayConfig, LoadedConfig};
use crate::viewer::{Level, Scope, Viewer};

/// How long a replica reuses an académie's structures before reading them
/// again (a directory import changes them once a day).
pub const PLACES_TTL: Duration = Duration::from_secs(300);

/// `[steering]`: who may read the steering statistics.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SteeringConfig {
    /// Grants by function or profile.
    #[serde(default)]
    pub roles: Vec<Spanned<RoleConfig>>,
    /// Grants to named people.
    #[serde(default)]
    pub administrators: Vec<Spanned<AdministratorConfig>>,
}

/// `[[steering.roles]]`: a function and/or a profile, and the level of the
/// areas it sees.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// Function code (`DIR`, `IEN1D`), compared case-insensitively.
    pub function: Option<Spanned<String>>,
    /// SDET profile (`National_COL`), compared case-insensitively.
    pub profile: Option<Spanned<String>>,
    /// `ecole`, `circonscription`, `commune`, `departement` or `academie`.
    pub level: Spanned<String>,
    /// How the pages name the role ("Direction d'école").
    pub label: Option<String>,
}

/// `[[steering.administrators]]`: one named person and their scopes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdministratorConfig {
    /// The upstream IdP they log in through.
    pub idp: Spanned<String>,
    /// The identifier that IdP gives them (either this or `email`).
    pub subject: Option<String>,
    /// Their academic e-mail (either this or `subject`).
    pub email: Option<String>,
    /// `level:code` (`academie:AC-RENNES`, `departement:035`) or `national`.
    #[serde(default)]
    pub scopes: Vec<Spanned<String>>,
    /// How the pages name the role ("Administration académique").
    pub label: Option<String>,
}

/// A validated role rule.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RoleRule {
    function: Option<String>,
    profile: Option<Profile>,
    level: Level,
    label: String,
}

/// How an administrator is recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Named {
    /// By the upstream identifier.
    Subject(String),
    /// By academic e-mail, lower-cased.
    Email(String),
}

/// A validated administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Administrator {
    idp: String,
    named: Named,
    scopes: Vec<Scope>,
    label: String,
}

/// One thing wrong in `[steering]`, located in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Flaw {
    span: Range<usize>,
    field: String,
    message: String,
}

/// The level named in configuration (`ecole`, ..., `national`).
pub fn parse_level(name: &str) -> Option<Level> {
    match name {
        "ecole" => Some(Level::Ecole),
        "circonscription" => Some(Level::Circonscription),
        "commune" => Some(Level::Commune),
        "departement" => Some(Level::Departement),
        "academie" => Some(Level::Academie),
        "national" => Some(Level::National),
        _ => None,
    }
}

/// A scope written `level:code`, or `national`.
pub fn parse_scope(text: &str) -> Option<Scope> {
    if text == "national" {
        return Some(Scope {
            level: Level::National,
            code: String::new(),
        });
    }
    let (level, code) = text.split_once(':')?;
    let level = parse_level(level).filter(|level| *level != Level::National)?;
    let code = code.trim();
    (!code.is_empty()).then(|| Scope {
        level,
        code: code.to_owned(),
    })
}

/// A scope in French, for the pages ("école 0359990U").
pub fn describe(scope: &Scope) -> String {
    let level = match scope.level {
        Level::Ecole => "école",
        Level::Circonscription => "circonscription",
        Level::Commune => "commune",
        Level::Departement => "département",
        Level::Academie => "académie",
        Level::National => return "ensemble du service".to_owned(),
    };
    format!("{level} {}", scope.code)
}

fn role_rule(index: usize, spanned: &Spanned<RoleConfig>) -> Result<RoleRule, Vec<Flaw>> {
    let config = spanned.get_ref();
    let field = |name: &str| format!("steering.roles[{index}].{name}");
    let mut flaws = Vec::new();
    let level = match parse_level(config.level.get_ref()) {
        Some(Level::National) => {
            flaws.push(Flaw {
                span: config.level.span(),
                field: field("level"),
                message: "a role sees the areas of the person's own structures: \"national\" is for named administrators only".into(),
            });
            None
        }
        Some(level) => Some(level),
        None => {
            flaws.push(Flaw {
                span: config.level.span(),
                field: field("level"),
                message: format!(
                    "unknown level {:?}: ecole, circonscription, commune, departement or academie",
                    config.level.get_ref()
                ),
            });
            None
        }
    };
    let function = match &config.function {
        Some(function) => {
            let code = function.get_ref().trim();
            if code.is_empty() || code.contains(char::is_whitespace) {
                flaws.push(Flaw {
                    span: function.span(),
                    field: field("function"),
                    message: format!("{:?} is not a function code (DIR, IEN1D...)", code),
                });
            }
            Some(code.to_ascii_uppercase())
        }
        None => None,
    };
    let profile = match &config.profile {
        Some(profile) => match profile.get_ref().parse::<Profile>() {
            Ok(profile) => Some(profile),
            Err(_) => {
                flaws.push(Flaw {
                    span: profile.span(),
                    field: field("profile"),
                    message: format!(
                        "{:?} is not an SDET profile (National_DIR, National_COL...)",
                        profile.get_ref()
                    ),
                });
                None
            }
        },
        None => None,
    };
    if config.function.is_none() && config.profile.is_none() {
        flaws.push(Flaw {
            span: spanned.span(),
            field: format!("steering.roles[{index}]"),
            message: "an empty rule would grant everyone: give a function, a profile or both"
                .into(),
        });
    }
    match level {
        Some(level) if flaws.is_empty() => {
            let label = config
                .label
                .clone()
                .unwrap_or_else(|| match (&function, profile) {
                    (Some(function), _) => format!("Fonction {function}"),
                    (None, Some(profile)) => format!("Profil {profile}"),
                    (None, None) => "Rôle".to_owned(),
                });
            Ok(RoleRule {
                function,
                profile,
                level,
                label,
            })
        }
        _ => Err(flaws),
    }
}

fn administrator(
    index: usize,
    spanned: &Spanned<AdministratorConfig>,
    idps: &BTreeSet<&str>,
) -> Result<Administrator, Vec<Flaw>> {
    let config = spanned.get_ref();
    let field = |name: &str| format!("steering.administrators[{index}].{name}");
    let mut flaws = Vec::new();
    if !idps.contains(config.idp.get_ref().as_str()) {
        flaws.push(Flaw {
            span: config.idp.span(),
            field: field("idp"),
            message: format!(
                "no upstream identity provider has the id {:?}",
                config.idp.get_ref()
            ),
        });
    }
    let named = match (&config.subject, &config.email) {
        (Some(subject), None) if !subject.trim().is_empty() => {
            Some(Named::Subject(subject.trim().to_owned()))
        }
        (None, Some(email)) if email.contains('@') => {
            Some(Named::Email(email.trim().to_lowercase()))
        }
        _ => {
            flaws.push(Flaw {
                span: spanned.span(),
                field: format!("steering.administrators[{index}]"),
                message: "name the person by exactly one of `subject` (the IdP's identifier) or `email` (academic address)".into(),
            });
            None
        }
    };
    let mut scopes = Vec::new();
    for (position, scope) in config.scopes.iter().enumerate() {
        match parse_scope(scope.get_ref()) {
            Some(parsed) => scopes.push(parsed),
            None => flaws.push(Flaw {
                span: scope.span(),
                field: field(&format!("scopes[{position}]")),
                message: format!(
                    "{:?} is not a scope: level:code (ecole, circonscription, commune, departement, academie) or national",
                    scope.get_ref()
                ),
            }),
        }
    }
    if config.scopes.is_empty() {
        flaws.push(Flaw {
            span: spanned.span(),
            field: field("scopes"),
            message: "an administrator needs at least one scope".into(),
        });
    }
    match named {
        Some(named) if flaws.is_empty() => Ok(Administrator {
            idp: config.idp.get_ref().clone(),
            named,
            scopes,
            label: config
                .label
                .clone()
                .unwrap_or_else(|| "Administration".to_owned()),
        }),
        _ => Err(flaws),
    }
}

/// The validated grants of `[steering]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Grants {
    roles: Vec<RoleRule>,
    administrators: Vec<Administrator>,
}

impl Grants {
    /// The valid grants and the flaws of the others.
    fn build(config: &GatewayConfig) -> (Self, Vec<Flaw>) {
        let idps: BTreeSet<&str> = config
            .idp
            .iter()
            .map(|idp| idp.id.get_ref().as_str())
            .chain(config.oidc_idp.iter().map(|idp| idp.id.get_ref().as_str()))
            .chain(
                config
                    .header_idp
                    .iter()
                    .map(|idp| idp.id.get_ref().as_str()),
            )
            .collect();
        let mut grants = Self::default();
        let mut flaws = Vec::new();
        for (index, role) in config.steering.roles.iter().enumerate() {
            match role_rule(index, role) {
                Ok(rule) => grants.roles.push(rule),
                Err(found) => flaws.extend(found),
            }
        }
        for (index, admin) in config.steering.administrators.iter().enumerate() {
            match administrator(index, admin, &idps) {
                Ok(admin) => grants.administrators.push(admin),
                Err(found) => flaws.extend(found),
            }
        }
        (grants, flaws)
    }
}

/// Checks `[steering]`: each problem with its file, line and field.
pub fn check(loaded: &LoadedConfig) -> Vec<ConfigProblem> {
    Grants::build(&loaded.config)
        .1
        .into_iter()
        .map(|flaw| loaded.problem_at(&Spanned::new(flaw.span, ()), flaw.field, flaw.message))
        .collect()
}

/// The structures of one académie, by AAF id and by UAI.
#[derive(Debug, Default)]
struct Places {
    by_id: BTreeMap<String, Structure>,
    id_by_uai: HashMap<String, String>,
}

impl Places {
    fn by_uai(&self, uai: &str) -> Option<&Structure> {
        self.id_by_uai.get(uai).and_then(|id| self.by_id.get(id))
    }
}

/// Where a person works, as far as it is known.
enum Seat<'a> {
    /// A structure of the directory.
    Known(&'a Structure),
    /// A school code from the login alone.
    Uai(&'a str),
}

impl Seat<'_> {
    /// The code of the area at `level` holding this seat.
    fn area(&self, level: Level, academie: Option<&str>) -> Option<String> {
        match (self, level) {
            (Seat::Known(structure), Level::Ecole) => structure.uai.clone(),
            (Seat::Uai(uai), Level::Ecole) => Some((*uai).to_owned()),
            (Seat::Known(structure), Level::Circonscription) => structure.circonscription.clone(),
            (Seat::Known(structure), Level::Commune) => structure.commune.clone(),
            (Seat::Known(structure), Level::Departement) => structure.departement.clone(),
            (Seat::Known(structure), Level::Academie) => structure
                .academie
                .clone()
                .or_else(|| academie.map(str::to_owned)),
            (Seat::Uai(_), Level::Academie) => academie.map(str::to_owned),
            (Seat::Uai(_), _) | (_, Level::National) => None,
        }
        .filter(|code| !code.trim().is_empty())
    }
}

/// The steering grants with this replica's cache of the directory's
/// structures.
#[derive(Debug, Default)]
pub struct Steering {
    grants: Grants,
    places: Mutex<HashMap<String, (Instant, Arc<Places>)>>,
}

impl Steering {
    /// The grants of `[steering]` (invalid entries, reported by [`check`]
    /// before the server starts, are left out).
    pub fn new(config: &GatewayConfig) -> Self {
        Self {
            grants: Grants::build(config).0,
            places: Mutex::default(),
        }
    }

    /// The viewer `identity` is, or `None` when no grant gives them any
    /// area.
    pub async fn viewer(
        &self,
        directory: &Directory,
        identity: &Identity,
    ) -> Result<Option<Viewer>, DirectoryError> {
        let mut scopes = BTreeSet::new();
        let mut labels = Vec::new();
        for admin in self
            .grants
            .administrators
            .iter()
            .filter(|a| a.names(identity))
        {
            scopes.extend(admin.scopes.iter().cloned());
            labels.push(labelled(&admin.label, &admin.scopes));
        }
        let roles: Vec<&RoleRule> = self
            .grants
            .roles
            .iter()
            .filter(|rule| rule.matches(identity))
            .collect();
        if !roles.is_empty() {
            let entry = entry(directory, identity).await?;
            let academie = entry
                .as_ref()
                .map(|(academie, _)| academie.clone())
                .or_else(|| identity.first(attr::ACADEMIE).map(str::to_owned));
            let places = match &academie {
                Some(academie) => vec![self.places(directory, academie).await?],
                None => {
                    let mut all = Vec::new();
                    for academie in directory.academies().await? {
                        all.push(self.places(directory, &academie).await?);
                    }
                    all
                }
            };
            for rule in roles {
                let areas: BTreeSet<Scope> = seats(identity, entry.as_ref(), rule, &places)
                    .iter()
                    .filter_map(|seat| seat.area(rule.level, academie.as_deref()))
                    .map(|code| Scope {
                        level: rule.level,
                        code,
                    })
                    .collect();
                if areas.is_empty() {
                    continue;
                }
                let areas: Vec<Scope> = areas.into_iter().collect();
                labels.push(labelled(&rule.label, &areas));
                scopes.extend(areas);
            }
        }
        if scopes.is_empty() {
            return Ok(None);
        }
        Ok(Some(Viewer {
            label: labels.join(" ; "),
            scopes: scopes.into_iter().collect(),
        }))
    }

    /// The structures of `academie`, from the cache while fresh.
    async fn places(
        &self,
        directory: &Directory,
        academie: &str,
    ) -> Result<Arc<Places>, DirectoryError> {
        let cached = self
            .places
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(academie)
            .filter(|(read, _)| read.elapsed() < PLACES_TTL)
            .map(|(_, places)| Arc::clone(places));
        if let Some(places) = cached {
            return Ok(places);
        }
        let references = directory.references(academie).await?;
        let id_by_uai = references
            .structures
            .values()
            .filter_map(|s| s.uai.as_ref().map(|uai| (uai.clone(), s.id.clone())))
            .collect();
        let places = Arc::new(Places {
            by_id: references.structures,
            id_by_uai,
        });
        self.places
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(academie.to_owned(), (Instant::now(), Arc::clone(&places)));
        Ok(places)
    }
}

impl RoleRule {
    fn matches(&self, identity: &Identity) -> bool {
        let function = self.function.as_ref().is_none_or(|wanted| {
            identity
                .values(attr::FUNCTION)
                .iter()
                .any(|code| code.trim().eq_ignore_ascii_case(wanted))
        });
        let profile = self
            .profile
            .is_none_or(|wanted| identity.profiles().contains(&wanted));
        function && profile
    }
}

impl Administrator {
    fn names(&self, identity: &Identity) -> bool {
        identity.idp == self.idp
            && match &self.named {
                Named::Subject(subject) => identity.subject == *subject,
                Named::Email(email) => identity
                    .values(attr::EMAIL)
                    .iter()
                    .any(|value| value.trim().eq_ignore_ascii_case(email)),
            }
    }
}

/// "Direction d'école — école 0359990U, école 0359991V".
fn labelled(label: &str, scopes: &[Scope]) -> String {
    let areas: Vec<String> = scopes.iter().map(describe).collect();
    format!("{label} — {}", areas.join(", "))
}

/// The person's active directory entry, with its académie, when the login
/// was joined.
async fn entry(
    directory: &Directory,
    identity: &Identity,
) -> Result<Option<(String, Person)>, DirectoryError> {
    for reference in identity.values(attr::AAF_REF) {
        let Some((academie, id)) = reference.split_once('|') else {
            continue;
        };
        if let Some(person) = directory.person(academie, id).await?
            && person.is_active()
        {
            return Ok(Some((academie.to_owned(), person)));
        }
    }
    Ok(None)
}

/// The structures a rule looks at: from the directory entry when there is
/// one (for a function rule, where the person holds that function), else
/// the school codes of the login.
fn seats<'a>(
    identity: &'a Identity,
    entry: Option<&(String, Person)>,
    rule: &RoleRule,
    places: &'a [Arc<Places>],
) -> Vec<Seat<'a>> {
    let find_id = |id: &str| places.iter().find_map(|p| p.by_id.get(id));
    let from_directory: Option<Vec<&str>> = entry.and_then(|(_, person)| {
        let ids: Vec<&str> = match &rule.function {
            Some(function) => person
                .functions
                .iter()
                .filter(|f| f.code.trim().eq_ignore_ascii_case(function))
                .map(|f| f.structure.as_str())
                .collect(),
            None => person.structures.iter().map(String::as_str).collect(),
        };
        (!ids.is_empty()).then_some(ids)
    });
    match from_directory {
        Some(ids) => ids
            .into_iter()
            .filter_map(find_id)
            .map(Seat::Known)
            .collect(),
        None => identity
            .values(attr::UAI)
            .iter()
            .map(|uai| {
                places
                    .iter()
                    .find_map(|p| p.by_uai(uai))
                    .map_or(Seat::Uai(uai), Seat::Known)
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_level_and_code_or_national() {
        assert_eq!(
            parse_scope("academie:AC-RENNES"),
            Some(Scope {
                level: Level::Academie,
                code: "AC-RENNES".into()
            })
        );
        assert_eq!(
            parse_scope("national").map(|s| s.level),
            Some(Level::National)
        );
        for wrong in [
            "academie",
            "academie:",
            "national:X",
            "region:53",
            "Ecole:0359990U",
        ] {
            assert_eq!(parse_scope(wrong), None, "{wrong}");
        }
    }

    fn rule(function: Option<&str>, profile: Option<&str>) -> RoleRule {
        RoleRule {
            function: function.map(str::to_owned),
            profile: profile.map(|p| p.parse().unwrap()),
            level: Level::Ecole,
            label: "r".into(),
        }
    }

    #[test]
    fn rules_match_function_and_profile_codes_case_insensitively() {
        let mut identity = Identity::new("agents", "x", 0);
        identity.push(attr::FUNCTION, "dir");
        identity.push(attr::PROFILE, "National_dir");
        assert!(rule(Some("DIR"), None).matches(&identity));
        assert!(rule(None, Some("National_DIR")).matches(&identity));
        assert!(rule(Some("DIR"), Some("NATIONAL_DIR")).matches(&identity));
        assert!(!rule(Some("IEN1D"), None).matches(&identity));
        assert!(
            !rule(Some("DIR"), Some("National_COL")).matches(&identity),
            "both must hold"
        );
    }

    #[test]
    fn administrators_are_named_within_their_idp() {
        let admin = Administrator {
            idp: "agents".into(),
            named: Named::Email("dane@ac-demo.example".into()),
            scopes: vec![],
            label: "a".into(),
        };
        let mut identity = Identity::new("agents", "x", 0);
        identity.push(attr::EMAIL, "DANE@ac-demo.example");
        assert!(admin.names(&identity));
        let mut elsewhere = identity.clone();
        elsewhere.idp = "educonnect".into();
        assert!(
            !admin.names(&elsewhere),
            "the same address from another IdP"
        );
    }

    fn structure(id: &str, uai: &str) -> Structure {
        serde_json::from_value(serde_json::json!({
            "id": id, "uai": uai, "circonscription": format!("circ-{id}")
        }))
        .unwrap()
    }

    #[test]
    fn a_function_rule_sees_only_the_structures_of_that_function() {
        let places = [Arc::new(Places {
            by_id: [("s1", "0359990U"), ("s2", "0359991V")]
                .into_iter()
                .map(|(id, uai)| (id.to_owned(), structure(id, uai)))
                .collect(),
            id_by_uai: HashMap::new(),
        })];
        let person: Person = serde_json::from_value(serde_json::json!({
            "id": "p1", "kind": "Staff", "structures": ["s1", "s2"],
            "functions": [{"s": "s1", "f": "ENS"}, {"s": "s2", "f": "DIR"}]
        }))
        .unwrap();
        let entry = Some(("AC-RENNES".to_owned(), person));
        let mut identity = Identity::new("agents", "x", 0);
        identity.push(attr::UAI, "0359990U");
        identity.push(attr::UAI, "0359991V");
        let areas = |rule: &RoleRule| -> Vec<String> {
            seats(&identity, entry.as_ref(), rule, &places)
                .iter()
                .filter_map(|seat| seat.area(rule.level, None))
                .collect()
        };
        assert_eq!(
            areas(&rule(Some("dir"), None)),
            ["0359991V"],
            "director in s2 only, teacher in s1"
        );
        assert_eq!(
            areas(&rule(None, Some("National_DIR"))),
            ["0359990U", "0359991V"],
            "a profile rule: every structure of the person"
        );
        let mut circonscription = rule(Some("DIR"), None);
        circonscription.level = Level::Circonscription;
        assert_eq!(areas(&circonscription), ["circ-s2"]);
        assert_eq!(
            seats(&identity, None, &rule(Some("DIR"), None), &places).len(),
            2,
            "not in the directory: the login's school codes"
        );
    }

    #[test]
    fn a_known_structure_gives_its_areas() {
        let structure = Structure {
            id: "s1".into(),
            uai: Some("0359990U".into()),
            name: None,
            kind: None,
            academie: None,
            contract: None,
            commune: Some("Rennes".into()),
            postal_code: None,
            departement: Some("035".into()),
            bassin: None,
            circonscription: Some("Rennes Nord".into()),
            classes: BTreeMap::new(),
            groups: BTreeMap::new(),
        };
        let seat = Seat::Known(&structure);
        let area = |level| seat.area(level, Some("AC-RENNES"));
        assert_eq!(area(Level::Ecole).as_deref(), Some("0359990U"));
        assert_eq!(area(Level::Circonscription).as_deref(), Some("Rennes Nord"));
        assert_eq!(area(Level::Commune).as_deref(), Some("Rennes"));
        assert_eq!(area(Level::Departement).as_deref(), Some("035"));
        assert_eq!(area(Level::Academie).as_deref(), Some("AC-RENNES"));
        let bare = Seat::Uai("0359990U");
        assert_eq!(
            bare.area(Level::Circonscription, None),
            None,
            "an unknown school has no known circonscription"
        );
        assert_eq!(bare.area(Level::Ecole, None).as_deref(), Some("0359990U"));
    }
}
