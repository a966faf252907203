//! Every validation error kind, with the file, line and field it reports.
//! The untouched base file loads (positive control); each test changes one
//! thing and checks the error.

use chrono::NaiveDate;
use sp_registry::{LoadError, LoadErrorKind};
use sso_core::{Profile, Uai, UaiError};

use crate::common::{Folder, assert_at};

/// A valid service file. Line numbers matter: 1 id, 2 display_name, 3 kind,
/// 4 blank, 5 `[saml]`, 6 entity_id, 7 acs, 8 require_signed_authn_requests.
const BASE: &str = r#"id = "svc"
display_name = "Service"
kind = "ent"

[saml]
entity_id = "https://svc.example.fr/sp"
acs = [{ url = "https://svc.example.fr/acs", binding = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" }]
require_signed_authn_requests = false
"#;

const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// BASE with its 1-based line `line` replaced by `text` (which may hold several lines).
fn replace_line(line: usize, text: &str) -> String {
    let mut lines: Vec<&str> = BASE.lines().collect();
    lines[line - 1] = text;
    lines.join("\n") + "\n"
}

/// BASE followed by `text`, starting at line 9.
fn append(text: &str) -> String {
    format!("{BASE}{text}")
}

/// A folder holding one service file `svc.toml`.
fn folder_with(contents: &str) -> Folder {
    let folder = Folder::new();
    folder.write("svc.toml", contents);
    folder
}

fn only_error(contents: &str) -> (Folder, LoadError) {
    let folder = folder_with(contents);
    let error = folder.only_error();
    (folder, error)
}

#[test]
fn base_file_loads() {
    let folder = folder_with(BASE);
    let registry = folder.load().unwrap();
    assert!(registry.by_id("svc").is_some());
}

#[test]
fn toml_syntax_error() {
    let (folder, error) = only_error(&append("[release\n"));
    assert_at(&error, &folder, "svc.toml", Some(9), None);
    assert!(matches!(error.reason, LoadErrorKind::Syntax(_)), "{error}");
}

#[test]
fn unknown_top_level_field() {
    let (folder, error) = only_error(&replace_line(4, "flavour = \"vanilla\""));
    assert_at(&error, &folder, "svc.toml", Some(4), Some("flavour"));
    assert!(matches!(&error.reason, LoadErrorKind::UnknownField(name) if name == "flavour"));
}

#[test]
fn unknown_field_in_a_table() {
    let (folder, error) = only_error(&append("sign_responses = true\n"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(9),
        Some("saml.sign_responses"),
    );
    assert!(matches!(&error.reason, LoadErrorKind::UnknownField(name) if name == "sign_responses"));
}

#[test]
fn unknown_field_in_an_inline_endpoint() {
    let slo = format!(
        "slo = [{{ url = \"https://svc.example.fr/slo\", binding = \"{REDIRECT}\", index = 1 }}]\n"
    );
    let (folder, error) = only_error(&append(&slo));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(9),
        Some("saml.slo[0].index"),
    );
    assert!(matches!(&error.reason, LoadErrorKind::UnknownField(name) if name == "index"));
}

#[test]
fn missing_top_level_field_has_no_line() {
    let (folder, error) = only_error(&replace_line(2, ""));
    assert_at(&error, &folder, "svc.toml", None, Some("display_name"));
    assert!(matches!(error.reason, LoadErrorKind::MissingField));
}

#[test]
fn missing_field_in_a_table_points_at_its_header() {
    let (folder, error) = only_error(&replace_line(6, ""));
    assert_at(&error, &folder, "svc.toml", Some(5), Some("saml.entity_id"));
    assert!(matches!(error.reason, LoadErrorKind::MissingField));
}

#[test]
fn invalid_enumerated_value() {
    let (folder, error) = only_error(&replace_line(3, "kind = \"portal\""));
    assert_at(&error, &folder, "svc.toml", Some(3), Some("kind"));
    assert!(
        matches!(error.reason, LoadErrorKind::InvalidValue(_)),
        "{error}"
    );
}

#[test]
fn value_out_of_type_range() {
    let acs = format!(
        "acs = [{{ url = \"https://svc.example.fr/acs\", binding = \"{POST}\", index = 70000 }}]"
    );
    let (folder, error) = only_error(&replace_line(7, &acs));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(7),
        Some("saml.acs[0].index"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::InvalidValue(_)),
        "{error}"
    );
}

#[test]
fn invalid_service_id() {
    let (folder, error) = only_error(&replace_line(1, "id = \"Svc_1\""));
    assert_at(&error, &folder, "svc.toml", Some(1), Some("id"));
    assert!(matches!(&error.reason, LoadErrorKind::InvalidName(name) if name == "Svc_1"));
}

#[test]
fn empty_display_name() {
    let (folder, error) = only_error(&replace_line(2, "display_name = \"  \""));
    assert_at(&error, &folder, "svc.toml", Some(2), Some("display_name"));
    assert!(matches!(error.reason, LoadErrorKind::Empty));
}

#[test]
fn empty_entity_id() {
    let (folder, error) = only_error(&replace_line(6, "entity_id = \"\""));
    assert_at(&error, &folder, "svc.toml", Some(6), Some("saml.entity_id"));
    assert!(matches!(error.reason, LoadErrorKind::Empty));
}

#[test]
fn resource_id_only_on_resources() {
    let resource = replace_line(4, "resource_id = \"ark:/99999/r1\"")
        .replace("kind = \"ent\"", "kind = \"resource\"");
    folder_with(&resource).load().unwrap();
    let ent = resource.replace("kind = \"resource\"", "kind = \"ent\"");
    let (folder, error) = only_error(&ent);
    assert_at(&error, &folder, "svc.toml", Some(4), Some("resource_id"));
    assert!(matches!(error.reason, LoadErrorKind::ResourceIdOnEnt));
}

#[test]
fn a_resource_needs_its_resource_id() {
    let with = replace_line(4, "resource_id = \"ark:/99999/r1\"")
        .replace("kind = \"ent\"", "kind = \"resource\"");
    folder_with(&with).load().unwrap();
    let without = BASE.replace("kind = \"ent\"", "kind = \"resource\"");
    let (folder, error) = only_error(&without);
    assert_at(&error, &folder, "svc.toml", Some(3), Some("resource_id"));
    assert!(matches!(error.reason, LoadErrorKind::MissingResourceId));
}

#[test]
fn two_resources_with_one_resource_id() {
    let resource = replace_line(4, "resource_id = \"ark:/99999/r1\"")
        .replace("kind = \"ent\"", "kind = \"resource\"");
    let folder = folder_with(&resource);
    folder.write(
        "svc2.toml",
        resource
            .replace("id = \"svc\"", "id = \"svc2\"")
            .replace("svc.example.fr/sp", "svc2.example.fr/sp"),
    );
    let error = folder.only_error();
    assert!(
        matches!(&error.reason, LoadErrorKind::DuplicateResourceId { resource_id, .. } if resource_id == "ark:/99999/r1"),
        "{error}"
    );
    assert_eq!(error.field.as_deref(), Some("resource_id"));
}

#[test]
fn mediacentre_needs_a_resource_and_http_urls() {
    let resource = replace_line(4, "resource_id = \"ark:/99999/r1\"")
        .replace("kind = \"ent\"", "kind = \"resource\"");
    let tile = "[mediacentre]\naccess_url = \"https://svc.example.fr/login\"\nlogo_url = \"https://svc.example.fr/logo.png\"\npedagogical_types = [\"Manuel numérique\"]\n";
    let registry = folder_with(&format!("{resource}{tile}")).load().unwrap();
    let shown = registry.by_id("svc").unwrap().mediacentre.clone().unwrap();
    assert_eq!(shown.access_url, "https://svc.example.fr/login");
    assert_eq!(shown.pedagogical_types, ["Manuel numérique"]);

    let (folder, error) = only_error(&append(tile));
    assert_at(&error, &folder, "svc.toml", Some(9), Some("mediacentre"));
    assert!(matches!(error.reason, LoadErrorKind::MediacentreOnEnt));

    let relative = format!(
        "{resource}{}",
        tile.replace("https://svc.example.fr/login", "/login")
    );
    let (folder, error) = only_error(&relative);
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(10),
        Some("mediacentre.access_url"),
    );
    assert!(matches!(error.reason, LoadErrorKind::NotAnHttpUrl(_)));
}

#[test]
fn unknown_gar_attribute() {
    let (folder, error) = only_error(&append(
        "[release]\nattributes = [\n  \"IDO\",\n  \"FOO\",\n]\n",
    ));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(12),
        Some("release.attributes"),
    );
    assert!(matches!(&error.reason, LoadErrorKind::UnknownAttribute(name) if name == "FOO"));
    let shown = error.to_string();
    let expected = format!(
        "{}:12: field `release.attributes`: unknown attribute \"FOO\"",
        folder.path().join("svc.toml").display()
    );
    assert!(shown.starts_with(&expected), "{shown}");
}

#[test]
fn gar_names_are_case_sensitive() {
    let (folder, error) = only_error(&append("[release]\nattributes = [\"ido\"]\n"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(10),
        Some("release.attributes"),
    );
    assert!(matches!(&error.reason, LoadErrorKind::UnknownAttribute(name) if name == "ido"));
}

#[test]
fn duplicate_released_attribute() {
    let (folder, error) = only_error(&append(
        "[release]\nattributes = [\"IDO\", \"UAI\", \"IDO\"]\n",
    ));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(10),
        Some("release.attributes"),
    );
    assert!(matches!(&error.reason, LoadErrorKind::DuplicateAttribute(name) if name == "IDO"));
}

#[test]
fn custom_name_clashing_with_a_released_gar_name() {
    let (folder, error) = only_error(&append(
        "[release]\nattributes = [\"UAI\"]\n[release.custom]\n\"UAI\" = \"academie\"\n",
    ));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(12),
        Some("release.custom"),
    );
    assert!(matches!(&error.reason, LoadErrorKind::DuplicateAttribute(name) if name == "UAI"));
}

#[test]
fn unknown_canonical_attribute() {
    let (folder, error) = only_error(&append("[release.custom]\n\"nick\" = \"nickname\"\n"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(10),
        Some("release.custom"),
    );
    assert!(
        matches!(&error.reason, LoadErrorKind::UnknownCanonicalAttribute(name) if name == "nickname")
    );
}

#[test]
fn ine_hash_and_aaf_ref_can_never_be_released() {
    folder_with(&append("[release.custom]\n\"prenom\" = \"given_name\"\n"))
        .load()
        .unwrap();
    let folder = folder_with(&append(
        "[release.custom]\n\"ine\" = \"ine_hash\"\n\"aaf\" = \"aaf_ref\"\n",
    ));
    let errors = folder.errors();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    // errors of a file come in line order
    assert_at(
        &errors[0],
        &folder,
        "svc.toml",
        Some(10),
        Some("release.custom"),
    );
    assert!(
        matches!(&errors[0].reason, LoadErrorKind::ForbiddenAttribute(name) if name == "ine_hash")
    );
    assert_at(
        &errors[1],
        &folder,
        "svc.toml",
        Some(11),
        Some("release.custom"),
    );
    assert!(
        matches!(&errors[1].reason, LoadErrorKind::ForbiddenAttribute(name) if name == "aaf_ref")
    );
}

#[test]
fn unknown_profile() {
    let (folder, error) = only_error(&append(
        "[access]\nprofiles = [\"National_ENS\", \"National_XYZ\"]\n",
    ));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(10),
        Some("access.profiles"),
    );
    assert!(matches!(error.reason, LoadErrorKind::UnknownProfile(_)));
}

#[test]
fn empty_profile_list() {
    let (folder, error) = only_error(&append("[access]\nprofiles = []\n"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(10),
        Some("access.profiles"),
    );
    assert!(matches!(error.reason, LoadErrorKind::NoProfiles));
}

/// A school-restricted `[access]` table with one grant: `[access]` at line
/// 9, `schools` 10, `[[access.grants]]` 11, then `grant` from line 12.
fn with_grant(grant: &str) -> String {
    append(&format!(
        "[access]\nschools = [\"0351234B\"]\n[[access.grants]]\n{grant}"
    ))
}

/// A valid grant: name 12, schools 13, valid_from 14, valid_until 15.
const GRANT: &str = "name = \"liaison\"\nschools = [\"0350001L\"]\nvalid_from = 2026-09-01\nvalid_until = 2027-08-31\n";

#[test]
fn access_table_with_schools_contexts_and_grants_loads() {
    let access = "[access]\nprofiles = [\"National_ELV\"]\nschools = [\"0351234b\", \"0351234B\"]\nauthn_contexts = [\"urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken\"]\n[[access.grants]]\nname = \"liaison-cm2-6e\"\nlabel = \"Liaison CM2-6e\"\nschools = [\"0350001L\", \"0350002M\"]\nprofiles = [\"National_ELV\"]\nlevels = [\"1115\", \"CM2\"]\nvalid_from = 2026-09-01\nvalid_until = 2027-08-31\nas_school = \"0351234B\"\n[[access.grants]]\nname = \"visite\"\nschools = [\"0350003N\"]\nvalid_from = 2026-09-01\nvalid_until = 2026-09-30\n";
    let registry = folder_with(&append(access)).load().unwrap();
    let policy = &registry.by_id("svc").unwrap().access;
    let college = Uai::parse("0351234B").unwrap();
    // duplicates dropped, spelling normalised
    assert_eq!(policy.schools, Some(vec![college.clone()]));
    assert_eq!(
        policy.authn_contexts,
        Some(vec![
            "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken".to_owned()
        ])
    );
    assert_eq!(policy.grants.len(), 2);
    let liaison = &policy.grants[0];
    assert_eq!(liaison.name, "liaison-cm2-6e");
    assert_eq!(liaison.label.as_deref(), Some("Liaison CM2-6e"));
    assert_eq!(liaison.schools.len(), 2);
    assert_eq!(liaison.profiles, Some(vec![Profile::Elv]));
    assert_eq!(
        liaison.levels,
        Some(vec!["1115".to_owned(), "CM2".to_owned()])
    );
    assert_eq!(
        liaison.valid_from,
        NaiveDate::from_ymd_opt(2026, 9, 1).unwrap()
    );
    assert_eq!(
        liaison.valid_until,
        NaiveDate::from_ymd_opt(2027, 8, 31).unwrap()
    );
    assert_eq!(liaison.as_school, Some(college));
    let visit = &policy.grants[1];
    assert_eq!(
        (visit.label.as_ref(), visit.profiles.as_ref()),
        (None, None)
    );
    assert_eq!(
        (visit.levels.as_ref(), visit.as_school.as_ref()),
        (None, None)
    );
}

#[test]
fn empty_school_list() {
    let (folder, error) = only_error(&append("[access]\nschools = []\n"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(10),
        Some("access.schools"),
    );
    assert!(matches!(error.reason, LoadErrorKind::NoSchools), "{error}");
}

#[test]
fn malformed_school_code() {
    let (folder, error) = only_error(&append("[access]\nschools = [\"0351234B\", \"035123B\"]\n"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(10),
        Some("access.schools"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::InvalidUai(UaiError::Length(_))),
        "{error}"
    );
}

#[test]
fn school_code_with_a_wrong_check_letter() {
    let (folder, error) = only_error(&append("[access]\nschools = [\"0351234X\"]\n"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(10),
        Some("access.schools"),
    );
    assert!(
        matches!(
            error.reason,
            LoadErrorKind::InvalidUai(UaiError::CheckLetter {
                found: 'X',
                expected: 'B',
                ..
            })
        ),
        "{error}"
    );
}

#[test]
fn empty_authn_context_list() {
    let (folder, error) = only_error(&append("[access]\nauthn_contexts = []\n"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(10),
        Some("access.authn_contexts"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::NoAuthnContexts),
        "{error}"
    );
}

#[test]
fn authn_context_that_is_not_a_uri() {
    let (folder, error) = only_error(&append(
        "[access]\nauthn_contexts = [\n  \"urn:example:ac:otp\",\n  \"TimeSyncToken\",\n]\n",
    ));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(12),
        Some("access.authn_contexts"),
    );
    assert!(
        matches!(&error.reason, LoadErrorKind::NotAnAuthnContext(value) if value == "TimeSyncToken"),
        "{error}"
    );
}

#[test]
fn grants_need_a_school_restriction() {
    folder_with(&with_grant(GRANT)).load().unwrap();
    let without = append(&format!(
        "[access]\nprofiles = [\"National_ELV\"]\n[[access.grants]]\n{GRANT}"
    ));
    let (folder, error) = only_error(&without);
    assert_at(&error, &folder, "svc.toml", Some(11), Some("access.grants"));
    assert!(
        matches!(error.reason, LoadErrorKind::GrantsWithoutSchools),
        "{error}"
    );
}

#[test]
fn duplicate_grant_name() {
    let two = with_grant(&format!("{GRANT}[[access.grants]]\n{GRANT}"));
    let (folder, error) = only_error(&two);
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(17),
        Some("access.grants[1].name"),
    );
    assert!(
        matches!(&error.reason, LoadErrorKind::DuplicateGrantName(name) if name == "liaison"),
        "{error}"
    );
}

#[test]
fn invalid_grant_name() {
    let (folder, error) = only_error(&with_grant(&GRANT.replace("\"liaison\"", "\"Liaison 6e\"")));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(12),
        Some("access.grants[0].name"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::InvalidName(_)),
        "{error}"
    );
}

#[test]
fn grant_school_list_empty_or_with_a_bad_code() {
    let (folder, error) = only_error(&with_grant(&GRANT.replace("[\"0350001L\"]", "[]")));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(13),
        Some("access.grants[0].schools"),
    );
    assert!(matches!(error.reason, LoadErrorKind::NoSchools), "{error}");

    let (folder, error) = only_error(&with_grant(&GRANT.replace("0350001L", "0350001A")));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(13),
        Some("access.grants[0].schools"),
    );
    assert!(
        matches!(
            error.reason,
            LoadErrorKind::InvalidUai(UaiError::CheckLetter { .. })
        ),
        "{error}"
    );
}

#[test]
fn grant_profile_and_level_lists_must_not_be_empty() {
    folder_with(&with_grant(&format!(
        "{GRANT}profiles = [\"National_ELV\"]\nlevels = [\"CM2\"]\n"
    )))
    .load()
    .unwrap();
    let (folder, error) = only_error(&with_grant(&format!("{GRANT}profiles = []\n")));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(16),
        Some("access.grants[0].profiles"),
    );
    assert!(matches!(error.reason, LoadErrorKind::NoProfiles), "{error}");

    let (folder, error) = only_error(&with_grant(&format!("{GRANT}levels = []\n")));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(16),
        Some("access.grants[0].levels"),
    );
    assert!(matches!(error.reason, LoadErrorKind::NoLevels), "{error}");
}

#[test]
fn grant_ending_before_it_starts() {
    let (folder, error) = only_error(&with_grant(&GRANT.replace("2027-08-31", "2026-08-31")));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(15),
        Some("access.grants[0].valid_until"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::GrantEndsBeforeStart { .. }),
        "{error}"
    );
}

#[test]
fn grant_of_at_most_400_days() {
    // 2026-09-01 + 400 days = 2027-10-06
    folder_with(&with_grant(&GRANT.replace("2027-08-31", "2027-10-06")))
        .load()
        .unwrap();
    let (folder, error) = only_error(&with_grant(&GRANT.replace("2027-08-31", "2027-10-07")));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(15),
        Some("access.grants[0].valid_until"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::GrantTooLong { days: 401 }),
        "{error}"
    );
}

#[test]
fn grant_as_school_must_be_a_school_of_the_service() {
    folder_with(&with_grant(&format!("{GRANT}as_school = \"0351234B\"\n")))
        .load()
        .unwrap();
    let (folder, error) = only_error(&with_grant(&format!("{GRANT}as_school = \"0350001L\"\n")));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(16),
        Some("access.grants[0].as_school"),
    );
    assert!(
        matches!(&error.reason, LoadErrorKind::AsSchoolNotInSchools(uai) if uai == "0350001L"),
        "{error}"
    );
}

#[test]
fn grant_dates_are_local_dates() {
    let (folder, error) = only_error(&with_grant(
        &GRANT.replace("2026-09-01", "2026-09-01T08:00:00"),
    ));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(14),
        Some("access.grants[0].valid_from"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::NotALocalDate(_)),
        "{error}"
    );

    let (folder, error) = only_error(&with_grant(&GRANT.replace("2026-09-01", "\"2026-09-01\"")));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(14),
        Some("access.grants[0].valid_from"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::InvalidValue(_)),
        "{error}"
    );
}

#[test]
fn grant_without_its_end_date() {
    let (folder, error) = only_error(&with_grant(
        &GRANT.replace("valid_until = 2027-08-31\n", ""),
    ));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(11),
        Some("access.grants[0].valid_until"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::MissingField),
        "{error}"
    );
}

#[test]
fn unknown_field_in_a_grant() {
    let (folder, error) = only_error(&with_grant(&format!("{GRANT}school = \"0350001L\"\n")));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(16),
        Some("access.grants[0].school"),
    );
    assert!(matches!(&error.reason, LoadErrorKind::UnknownField(name) if name == "school"));
}

#[test]
fn identifier_key_name() {
    let registry = folder_with(&append("[identifier]\nkey = \"2025\"\n"))
        .load()
        .unwrap();
    assert_eq!(
        registry.by_id("svc").unwrap().identifier_key.as_deref(),
        Some("2025")
    );
    let (folder, error) = only_error(&append("[identifier]\nkey = \"Rotation 2025\"\n"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(10),
        Some("identifier.key"),
    );
    assert!(
        matches!(&error.reason, LoadErrorKind::InvalidName(name) if name == "Rotation 2025"),
        "{error}"
    );
}

#[test]
fn family_scope_requires_a_family() {
    let (folder, error) = only_error(&append("[identifier]\nscope = \"family\"\n"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(10),
        Some("identifier.family"),
    );
    assert!(matches!(error.reason, LoadErrorKind::MissingFamily));
}

#[test]
fn family_without_family_scope() {
    let (folder, error) = only_error(&append("[identifier]\nfamily = \"editeur\"\n"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(10),
        Some("identifier.family"),
    );
    assert!(matches!(
        error.reason,
        LoadErrorKind::FamilyWithoutFamilyScope
    ));
}

#[test]
fn invalid_family_name() {
    let (folder, error) = only_error(&append(
        "[identifier]\nscope = \"family\"\nfamily = \"Éditeur\"\n",
    ));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(11),
        Some("identifier.family"),
    );
    assert!(matches!(error.reason, LoadErrorKind::InvalidName(_)));
}

#[test]
fn metadata_file_and_inline_endpoints_are_exclusive() {
    let (folder, error) = only_error(&append("metadata_file = \"svc.metadata.xml\"\n"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(9),
        Some("saml.metadata_file"),
    );
    assert!(matches!(error.reason, LoadErrorKind::MetadataAndInline));
}

#[test]
fn no_metadata_file_and_no_acs() {
    let (folder, error) = only_error(&replace_line(7, ""));
    assert_at(&error, &folder, "svc.toml", Some(5), Some("saml"));
    assert!(matches!(error.reason, LoadErrorKind::NoEndpointSource));
}

#[test]
fn missing_metadata_file() {
    let (folder, error) = only_error(&replace_line(7, "metadata_file = \"absent.metadata.xml\""));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(7),
        Some("saml.metadata_file"),
    );
    match &error.reason {
        LoadErrorKind::ReferencedFile { path, source } => {
            assert_eq!(path, &folder.path().join("absent.metadata.xml"));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn missing_certificate_file() {
    let (folder, error) = only_error(&append("signing_certificate_file = \"absent.crt\"\n"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(9),
        Some("saml.signing_certificate_file"),
    );
    assert!(
        matches!(&error.reason, LoadErrorKind::ReferencedFile { path, .. } if path.ends_with("absent.crt"))
    );
}

#[test]
fn invalid_certificate_file() {
    let contents = append("signing_certificate_file = \"svc.crt\"\n");
    let folder = folder_with(&contents);
    folder.write("svc.crt", "this is not a certificate\n");
    let error = folder.only_error();
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(9),
        Some("saml.signing_certificate_file"),
    );
    assert!(
        matches!(error.reason, LoadErrorKind::Certificate { .. }),
        "{error}"
    );
}

#[test]
fn empty_acs_list() {
    let (folder, error) = only_error(&replace_line(7, "acs = []"));
    assert_at(&error, &folder, "svc.toml", Some(7), Some("saml.acs"));
    assert!(matches!(error.reason, LoadErrorKind::NoAcs));
}

#[test]
fn acs_list_without_http_post() {
    let acs =
        format!("acs = [{{ url = \"https://svc.example.fr/acs\", binding = \"{REDIRECT}\" }}]");
    let (folder, error) = only_error(&replace_line(7, &acs));
    assert_at(&error, &folder, "svc.toml", Some(7), Some("saml.acs"));
    assert!(matches!(error.reason, LoadErrorKind::NoPostAcs));
}

#[test]
fn duplicate_acs_index() {
    let acs = format!(
        "acs = [\n  {{ url = \"https://svc.example.fr/a\", binding = \"{POST}\", index = 1 }},\n  {{ url = \"https://svc.example.fr/b\", binding = \"{POST}\", index = 1 }},\n]"
    );
    let (folder, error) = only_error(&replace_line(7, &acs));
    assert_at(&error, &folder, "svc.toml", Some(7), Some("saml.acs"));
    assert!(matches!(error.reason, LoadErrorKind::DuplicateAcsIndex(1)));
}

#[test]
fn unsupported_binding() {
    let acs = "acs = [\n  { url = \"https://svc.example.fr/acs\", binding = \"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" },\n  { url = \"https://svc.example.fr/art\", binding = \"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact\" },\n]";
    let (folder, error) = only_error(&replace_line(7, acs));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(9),
        Some("saml.acs[1].binding"),
    );
    assert!(
        matches!(&error.reason, LoadErrorKind::UnsupportedBinding(b) if b.ends_with("HTTP-Artifact"))
    );
}

#[test]
fn empty_acs_url() {
    let acs = format!("acs = [{{ url = \"\", binding = \"{POST}\" }}]");
    let (folder, error) = only_error(&replace_line(7, &acs));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(7),
        Some("saml.acs[0].url"),
    );
    assert!(matches!(error.reason, LoadErrorKind::Empty));
}

#[test]
fn signed_requests_by_default_need_a_signing_certificate() {
    // Positive control: with a certificate, the default (signed requests) loads.
    let with_cert = replace_line(8, "signing_certificate_file = \"svc.crt\"");
    let folder = folder_with(&with_cert);
    folder.copy_fixture("valid", "ent-college.crt");
    std::fs::rename(
        folder.path().join("ent-college.crt"),
        folder.path().join("svc.crt"),
    )
    .unwrap();
    let registry = folder.load().unwrap();
    assert!(
        registry
            .by_id("svc")
            .unwrap()
            .saml
            .as_ref()
            .unwrap()
            .require_signed_authn_requests
    );

    let (folder, error) = only_error(&replace_line(8, ""));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(5),
        Some("saml.require_signed_authn_requests"),
    );
    assert!(matches!(error.reason, LoadErrorKind::NoSigningCertificate));
}

#[test]
fn explicitly_signed_requests_need_a_signing_certificate() {
    let (folder, error) = only_error(&replace_line(8, "require_signed_authn_requests = true"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(8),
        Some("saml.require_signed_authn_requests"),
    );
    assert!(matches!(error.reason, LoadErrorKind::NoSigningCertificate));
}

#[test]
fn assertion_lifetime_at_most_300_seconds() {
    let registry = folder_with(&append("assertion_lifetime_seconds = 300\n"))
        .load()
        .unwrap();
    assert_eq!(
        registry
            .by_id("svc")
            .unwrap()
            .saml
            .as_ref()
            .unwrap()
            .assertion_lifetime
            .as_secs(),
        300
    );
    for seconds in [0, 301] {
        let (folder, error) = only_error(&append(&format!(
            "assertion_lifetime_seconds = {seconds}\n"
        )));
        assert_at(
            &error,
            &folder,
            "svc.toml",
            Some(9),
            Some("saml.assertion_lifetime_seconds"),
        );
        assert!(matches!(error.reason, LoadErrorKind::LifetimeOutOfRange(s) if s == seconds));
    }
}

#[test]
fn duplicate_id_across_files() {
    let folder = Folder::new();
    folder.write("a.toml", BASE);
    folder.write("b.toml", BASE.replace("svc.example.fr", "other.example.fr"));
    let error = folder.only_error();
    assert_at(&error, &folder, "b.toml", Some(1), Some("id"));
    assert!(
        matches!(&error.reason, LoadErrorKind::DuplicateId { id, first } if id == "svc" && *first == folder.path().join("a.toml"))
    );
}

#[test]
fn duplicate_entity_id_across_files() {
    let folder = Folder::new();
    folder.write("a.toml", BASE);
    folder.write("b.toml", BASE.replace("id = \"svc\"", "id = \"other\""));
    let error = folder.only_error();
    assert_at(&error, &folder, "b.toml", Some(6), Some("saml.entity_id"));
    assert!(
        matches!(&error.reason, LoadErrorKind::DuplicateEntityId { entity_id, .. } if entity_id == "https://svc.example.fr/sp")
    );
}

#[test]
fn unreadable_service_file() {
    // ISO-8859-15 text is not UTF-8: refused, with the file named.
    let folder = Folder::new();
    folder.write("svc.toml", b"id = \"caf\xe9\"\n");
    let error = folder.only_error();
    assert_at(&error, &folder, "svc.toml", None, None);
    assert!(
        matches!(error.reason, LoadErrorKind::ReadFile(_)),
        "{error}"
    );
}

#[test]
fn missing_folder() {
    let folder = Folder::new();
    let absent = folder.path().join("absent");
    let errors = sp_registry::Registry::load_dir(&absent).unwrap_err().0;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].file, absent);
    assert_eq!(errors[0].line, None);
    assert_eq!(errors[0].field, None);
    assert!(matches!(errors[0].reason, LoadErrorKind::ReadDir(_)));
}

#[test]
fn every_error_of_every_file_is_reported() {
    let folder = Folder::new();
    folder.write(
        "a.toml",
        append(
            "[release]\nattributes = [\"FOO\", \"BAR\"]\n[access]\nprofiles = [\"National_X\"]\n",
        ),
    );
    folder.write("b.toml", "not toml at all =");
    folder.write(
        "c.toml",
        BASE.replace("id = \"svc\"", "id = \"c\"")
            .replace("svc.example", "c.example"),
    );
    folder.write("notes.txt", "ignored: not a service file");
    let errors = folder.errors();
    let summary: Vec<(String, Option<usize>)> = errors
        .iter()
        .map(|e| {
            (
                e.file.file_name().unwrap().to_string_lossy().into_owned(),
                e.line,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("a.toml".to_owned(), Some(10)),
            ("a.toml".to_owned(), Some(10)),
            ("a.toml".to_owned(), Some(12)),
            ("b.toml".to_owned(), Some(1)),
        ]
    );
    let shown = sp_registry::RegistryErrors(errors).to_string();
    assert_eq!(shown.lines().count(), 4, "{shown}");
}

#[test]
fn mediacentre_api_needs_an_ent_and_a_sha256() {
    let digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let api = format!("[mediacentre_api]\ntoken_sha256 = \"{digest}\"\n");
    let registry = folder_with(&append(&api)).load().unwrap();
    let stored = registry
        .by_id("svc")
        .unwrap()
        .mediacentre_api_token_sha256
        .unwrap();
    assert_eq!(hex::encode(stored), digest);

    let short = api.replace(digest, &digest[..62]);
    let (folder, error) = only_error(&append(&short));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(10),
        Some("mediacentre_api.token_sha256"),
    );
    assert!(matches!(error.reason, LoadErrorKind::NotASha256));
    let (_, error) = only_error(&append(&api.replace(&digest[..2], "zz")));
    assert!(matches!(error.reason, LoadErrorKind::NotASha256));

    let resource = replace_line(4, "resource_id = \"ark:/99999/r1\"")
        .replace("kind = \"ent\"", "kind = \"resource\"");
    let (folder, error) = only_error(&format!("{resource}{api}"));
    assert_at(
        &error,
        &folder,
        "svc.toml",
        Some(9),
        Some("mediacentre_api"),
    );
    assert!(matches!(
        error.reason,
        LoadErrorKind::MediacentreApiOnResource
    ));
}
