//! A complete login and logout between the simulated ENT and the simulated
//! agent IdP wired to each other, followed hop by hop like a browser.

use crate::common::*;

#[tokio::test]
async fn a_teacher_logs_in_to_the_ent_and_out_again() {
    let bed = serve().await;
    let browser = &bed.client;

    let home = browser.get(bed.url("/direct/ent")).send().await.unwrap();
    assert!(home.text().await.unwrap().contains("Se connecter"));

    // ENT -> IdP (signed AuthnRequest) -> login page.
    let r = browser
        .get(bed.url("/direct/ent/login"))
        .send()
        .await
        .unwrap();
    let to_idp = location(&r);
    assert!(to_idp.starts_with(&bed.url("/direct/agents/sso?")));
    let page = browser.get(&to_idp).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let pending = field(&page, "pending").unwrap();

    // Account chosen -> auto-submitting form to the ENT's ACS.
    let form = browser
        .post(form_action(&page))
        .form(&[("pending", pending.as_str()), ("login", "prof.garnier")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(form_action(&form), bed.url("/direct/ent/acs"));
    let r = browser
        .post(form_action(&form))
        .form(&[
            ("SAMLResponse", field(&form, "SAMLResponse").unwrap()),
            ("RelayState", field(&form, "RelayState").unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let home = browser
        .get(location(&r))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Connecté"));
    assert!(home.contains("yann.garnier@ac-rennes.example"));
    assert!(home.contains("0359992W$UAJ$PU$N$T3$LYC$300"));
    let state: serde_json::Value = browser
        .get(bed.url("/direct/ent/state.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["sessions"], 1);
    assert_eq!(
        state["last_attributes"]["ctfn"],
        serde_json::json!(["Yann"])
    );

    // ENT logout -> IdP SLO -> ENT SLO with the LogoutResponse.
    let r = browser
        .get(bed.url("/direct/ent/logout"))
        .send()
        .await
        .unwrap();
    let to_idp = location(&r);
    assert!(to_idp.starts_with(&bed.url("/direct/agents/slo?")));
    let r = browser.get(&to_idp).send().await.unwrap();
    let back = location(&r);
    assert!(back.starts_with(&bed.url("/direct/ent/slo?")));
    let r = browser.get(&back).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Vous êtes déconnecté"));

    // The IdP session ended too: a new login shows the page again.
    let r = browser
        .get(bed.url("/direct/ent/login"))
        .send()
        .await
        .unwrap();
    let page = browser
        .get(location(&r))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(field(&page, "pending").is_some());
}
