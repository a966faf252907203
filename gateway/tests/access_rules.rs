//! Access rules of a service file, end to end through HTTP with the
//! simulated IdPs and services: the cycle 3 grant (CM2 pupils of the
//! sector's école open the collège's ENT, which sees them in the collège)
//! and a required authentication context (a stronger login at the IdP of
//! the session, refused when that IdP cannot provide it). The example
//! service files are replaced by variants written before the gateway loads.

#![cfg(test)]

mod common;

use chrono::{Duration, Utc};
use common::{Browser, Stack, login_at_ent};
use sso_testbed::people::{COLLEGE_UAI, ECOLE_UAI};

const ENT: &str = include_str!("../../config/example/services/ent-college.toml");
const TEACHERS: &str = include_str!("../../config/example/services/espace-enseignants.toml");
const TEXTBOOK: &str = include_str!("../../config/example/services/manuel-numerique.toml");
const OTP: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken";

/// The example ENT restricted to the collège, with the CM2 pupils of the
/// école admitted for a school year and seen in the collège.
fn ent_of_the_college_with_the_cm2_grant() -> String {
    let today = Utc::now().date_naive();
    let access = format!(
        "schools = [\"{COLLEGE_UAI}\"]\n\n[[access.grants]]\nname = \"liaison-cm2-6e\"\nlabel = \"Liaison CM2-6e du secteur\"\nschools = [\"{ECOLE_UAI}\"]\nprofiles = [\"National_ELV\"]\nlevels = [\"1115\"]\nvalid_from = {}\nvalid_until = {}\nas_school = \"{COLLEGE_UAI}\"\n\n[mediacentre_api]",
        today - Duration::days(30),
        today + Duration::days(300),
    );
    assert!(ENT.contains("\n[mediacentre_api]"));
    ENT.replacen("[mediacentre_api]", &access, 1)
}

fn requiring_otp(service: &str) -> String {
    assert!(service.contains("\n[access]\n"));
    service.replacen(
        "\n[access]\n",
        &format!("\n[access]\nauthn_contexts = [\"{OTP}\"]\n"),
        1,
    )
}

async fn received_uai(stack: &Stack) -> String {
    stack.sp_state("ent").await["last_attributes"]["UAI"][0]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A collège pupil opens the ENT (regular rule); a CM2 pupil of the
/// sector's école opens it through the grant and the ENT sees the collège;
/// a CE1 pupil of the same école is refused with the French page.
#[tokio::test]
async fn the_cycle_3_grant_opens_the_colleges_ent_to_cm2_pupils_in_memory() {
    let stack = Stack::memory_with(vec![(
        "ent-college.toml".to_owned(),
        ent_of_the_college_with_the_cm2_grant(),
    )])
    .await;

    let mut louis = Browser::new();
    let page = login_at_ent(&stack, &mut louis, "educonnect", "eleve.louis").await;
    assert!(page.url.ends_with("/testbed/ent"), "{}", page.url);
    assert_eq!(received_uai(&stack).await, COLLEGE_UAI);

    let mut lea = Browser::new();
    let page = login_at_ent(&stack, &mut lea, "educonnect", "eleve.lea").await;
    assert!(page.url.ends_with("/testbed/ent"), "{}", page.body);
    assert_eq!(
        received_uai(&stack).await,
        COLLEGE_UAI,
        "the ENT sees the CM2 pupil in the collège"
    );

    let mut hugo = Browser::new();
    let page = login_at_ent(&stack, &mut hugo, "educonnect", "eleve.hugo").await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(
        page.body.contains("réservé à certains établissements"),
        "{}",
        page.body
    );
}

/// The teachers' resource requires an OTP login. A teacher logged in by
/// password sees it in the médiacentre; opening it sends them back to the
/// agents' IdP asking for the OTP context, and then it opens. Logout still
/// reaches the ENT they reached before the stronger login.
#[tokio::test]
async fn a_resource_requiring_otp_gets_a_stronger_login_in_memory() {
    let stack = Stack::memory_with(vec![(
        "espace-enseignants.toml".to_owned(),
        requiring_otp(TEACHERS),
    )])
    .await;
    let mut teacher = Browser::new();
    let page = login_at_ent(&stack, &mut teacher, "agents", "prof.blanc").await;
    assert!(page.url.ends_with("/testbed/ent"), "{}", page.url);
    let listing = teacher.open(&stack.url("/api/mediacentre")).await;
    assert!(
        listing.body.contains("ark:/99999/banque-ens"),
        "listed before the stronger login: {}",
        listing.body
    );

    let page = teacher
        .open(&stack.url("/mediacentre/ouvrir/espace-enseignants"))
        .await;
    assert!(
        page.body.contains("Connexion renforcée demandée"),
        "the agents' IdP asks for the OTP login: {}",
        page.body
    );
    let page = teacher.login_as(&page, "prof.blanc").await;
    assert!(page.url.ends_with("/testbed/enseignants"), "{}", page.url);
    assert!(page.body.contains("Connecté"), "{}", page.body);

    // Opened again: the session now carries the OTP context, no login.
    teacher.visited.clear();
    let page = teacher.open(&stack.url("/testbed/enseignants/login")).await;
    assert!(page.url.ends_with("/testbed/enseignants"), "{}", page.url);
    assert!(
        !teacher.went_through("/testbed/agents"),
        "{:?}",
        teacher.visited
    );

    assert_eq!(stack.sp_state("ent").await["logouts_received"], 0);
    let page = teacher.open(&stack.url("/logout")).await;
    assert!(page.body.contains("Vous êtes déconnecté"), "{}", page.body);
    assert_eq!(stack.sp_state("ent").await["logouts_received"], 1);
    // Two assertions were issued to it, each with its SessionIndex.
    assert_eq!(stack.sp_state("enseignants").await["logouts_received"], 2);
}

/// ÉduConnect logs in by password only: a resource requiring OTP is refused
/// to a pupil with the French page, after the attempt; the untouched
/// textbook opens for the same pupil (positive control).
#[tokio::test]
async fn a_pupil_cannot_reach_a_resource_requiring_otp_in_memory() {
    let control = Stack::memory().await;
    let mut pupil = Browser::new();
    login_at_ent(&control, &mut pupil, "educonnect", "eleve.louis").await;
    let page = pupil.open(&control.url("/testbed/manuel/login")).await;
    assert!(page.url.ends_with("/testbed/manuel"), "{}", page.url);

    let stack = Stack::memory_with(vec![(
        "manuel-numerique.toml".to_owned(),
        requiring_otp(TEXTBOOK),
    )])
    .await;
    let mut pupil = Browser::new();
    login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    let page = pupil.open(&stack.url("/testbed/manuel/login")).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(
        page.body.contains("Connexion renforcée requise"),
        "{}",
        page.body
    );
    assert!(
        pupil.went_through("/testbed/educonnect/sso"),
        "{:?}",
        pupil.visited
    );
}
