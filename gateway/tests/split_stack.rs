//! The simulators and the gateway apart, as the load tests run them: the
//! simulated IdPs and services of `demo::Testbed` on one port, the gateway
//! on another, built from the configuration the testbed wrote, on a real
//! Redis (started by the harness) into which the testbed imported the demo
//! directory and subscriptions. A pupil logs in at the simulated ENT end to
//! end through HTTP, the ENT lists the médiacentre, and the CAS resource
//! opens from it; once with the gateway built in the test process, once
//! with the `sso-gateway serve` binary in its own process.

#![cfg(test)]

mod common;

use std::net::SocketAddr;

use common::{Browser, link, login_at_ent_apart, serve_child, testbed_for, wait_ready};
use sso_gateway::config::LoadedConfig;
use sso_gateway::demo::Testbed;
use sso_store::testing::RedisServer;
use tokio::net::TcpListener;

/// The JSON counters of the simulator at `/testbed/{sim}`.
async fn sim_state(testbed: &Testbed, sim: &str) -> serde_json::Value {
    reqwest::get(format!("{}/testbed/{sim}/state.json", testbed.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A pupil logs in at the ENT through the gateway at `gateway`, the ENT
/// receives the pupil's attributes and lists the médiacentre's resources
/// (links to the gateway), and the CAS resource opens from that list with
/// no second login.
async fn pupil_logs_in_and_opens_the_cas_resource(testbed: &Testbed, gateway: &str) {
    let mut pupil = Browser::new();
    let home = login_at_ent_apart(
        &testbed.base_url,
        gateway,
        &mut pupil,
        "educonnect",
        "eleve.louis",
    )
    .await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert_eq!(home.url, format!("{}/testbed/ent", testbed.base_url));
    assert!(home.body.contains("Connecté"), "{}", home.body);
    assert!(
        pupil.went_through(&format!("{}/testbed/educonnect/", testbed.base_url)),
        "the simulated ÉduConnect answers at the testbed: {:?}",
        pupil.visited
    );
    assert!(
        pupil.went_through(&format!("{gateway}/saml/sp/acs")),
        "ÉduConnect answers the gateway: {:?}",
        pupil.visited
    );

    let ent = sim_state(testbed, "ent").await;
    let attributes = &ent["last_attributes"];
    assert_eq!(attributes["PRO"][0], "National_ELV", "{ent}");
    assert_eq!(attributes["NOM"][0], "Martin", "{ent}");
    assert_eq!(attributes["UAI"][0].as_str().unwrap().len(), 8, "{ent}");

    assert!(
        home.body.contains("<h2>Ressources du médiacentre</h2>"),
        "{}",
        home.body
    );
    assert!(
        link(
            &home.body,
            &format!("{gateway}/mediacentre/ouvrir/manuel-numerique")
        )
        .is_some(),
        "the ENT lists the textbook: {}",
        home.body
    );
    let tile = link(
        &home.body,
        &format!("{gateway}/mediacentre/ouvrir/atlas-cas"),
    )
    .expect("the ENT lists the CAS resource");
    assert_eq!(sim_state(testbed, "atlas").await["logins"], 0);
    pupil.visited.clear();
    let atlas = pupil.open(&tile).await;
    assert_eq!(atlas.status, 200, "{}", atlas.body);
    assert!(
        pupil.went_through(&format!("{gateway}/cas/login")),
        "{:?}",
        pupil.visited
    );
    assert!(
        !pupil.went_through("/testbed/educonnect"),
        "no second login: {:?}",
        pupil.visited
    );
    let atlas = sim_state(testbed, "atlas").await;
    assert_eq!(atlas["logins"], 1, "{atlas}");
    assert_eq!(
        atlas["last_attributes"]["UAI"], attributes["UAI"],
        "{atlas}"
    );
}

/// The configuration the testbed wrote names the testbed for everything
/// simulated (IdP metadata, OpenID issuer, resources' URLs) and the gateway
/// for the gateway (public URL, listen address, OpenID callback).
fn assert_config_names_both(testbed: &Testbed, gateway: &str, gateway_addr: SocketAddr) {
    let loaded = LoadedConfig::load(&testbed.config_path).unwrap();
    let server = &loaded.config.server;
    assert_eq!(server.public_url.get_ref(), gateway);
    assert_eq!(server.listen, gateway_addr.to_string());
    let [oidc] = loaded.config.oidc_idp.as_slice() else {
        panic!("one [[oidc_idp]] expected");
    };
    assert_eq!(
        oidc.issuer.get_ref(),
        &format!("{}/testbed/educonnect-oidc", testbed.base_url)
    );
    assert_eq!(
        oidc.redirect_uri.get_ref(),
        &format!("{gateway}/oidc/callback/educonnect-oidc")
    );
    let dir = testbed.config_path.parent().unwrap();
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let metadata = read("metadata/educonnect.xml");
    assert!(
        metadata.contains(&format!("{}/testbed/educonnect/sso", testbed.base_url)),
        "{metadata}"
    );
    assert!(!metadata.contains(gateway), "{metadata}");
    let atlas = read("services/atlas-cas.toml");
    assert!(
        atlas.contains(&format!("{}/testbed/atlas/callback", testbed.base_url)),
        "{atlas}"
    );
    assert!(!atlas.contains("atlas.demo.example"), "{atlas}");
}

/// The gateway built in this process from the testbed's configuration, on
/// its own listener: the login crosses both; neither serves the other's
/// routes.
#[tokio::test]
async fn a_pupil_logs_in_through_a_gateway_apart_from_the_simulators_on_redis() {
    let redis = RedisServer::start().await.unwrap();
    let gateway_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway_addr = gateway_listener.local_addr().unwrap();
    let (testbed, gateway, out) = testbed_for(&redis, gateway_addr).await;
    assert_ne!(testbed.base_url, gateway);
    assert_eq!(testbed.config_path, out.path().join("gateway.toml"));
    assert_config_names_both(&testbed, &gateway, gateway_addr);

    let loaded = LoadedConfig::load(&testbed.config_path).unwrap();
    let (router, _) = sso_gateway::server::build(&loaded, None).await.unwrap();
    tokio::spawn(sso_gateway::server::serve(gateway_listener, router));

    let status = |url: String| async move { reqwest::get(url).await.unwrap().status().as_u16() };
    assert_eq!(status(format!("{gateway}/healthz")).await, 200);
    assert_eq!(status(format!("{}/healthz", testbed.base_url)).await, 404);
    assert_eq!(
        status(format!("{}/testbed/ent", testbed.base_url)).await,
        200
    );
    assert_eq!(status(format!("{gateway}/testbed/ent")).await, 404);

    pupil_logs_in_and_opens_the_cas_resource(&testbed, &gateway).await;
}

/// The `sso-gateway serve` binary (`server::run`) in its own process, on the
/// testbed's configuration: what the load tests run.
#[tokio::test]
async fn sso_gateway_serve_runs_apart_from_the_simulators_on_redis() {
    let redis = RedisServer::start().await.unwrap();
    // A free port for the child to bind.
    let gateway_addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let (testbed, gateway, out) = testbed_for(&redis, gateway_addr).await;

    let log = out.path().join("gateway.log");
    let mut child = serve_child(&testbed.config_path, &log);
    wait_ready(&mut child, &gateway, &log).await;

    pupil_logs_in_and_opens_the_cas_resource(&testbed, &gateway).await;
}
