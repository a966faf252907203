//! Abuse protection of the credentials the gateway itself checks (issue 7,
//! "Overload and abuse"): OIDC client authentication at `/oidc/token`,
//! bearer tokens at `/oidc/userinfo` and at the admin API, CAS tickets,
//! upstream responses refused at the SAML ACS and the OIDC callback, and
//! trusted-header logins from a peer that is not a trusted proxy.
//!
//! A whole school logs in from one NAT address at 8h, so nothing here counts
//! successes: only *failures* are counted, per account (an OIDC client id, a
//! CAS service), per account and client IP, and per client IP, in the shared
//! store (one `INCR` + `PEXPIRE` per counter, a counter living
//! `window_seconds` after its last failure), so that spreading attempts over
//! replicas does not multiply the allowance. Before a credential is checked
//! the delay is computed from the current counts: nothing below a scope's
//! threshold, then `base_delay_ms` doubling with every further failure up to
//! `max_delay_ms`. The request waits, then the credential is checked as
//! usual: never a lock-out (the right credential still succeeds after its
//! delay), and the answer after a delay is the very answer of an ordinary
//! failure (the handler builds it; the limiter only waits).
//!
//! Counter names hold an HMAC of the account and of the IP under the
//! identifier secret ([`sp_registry::IdentifierKey::keyed_digest`]): no IP
//! address or client id appears in the store. When the store is unreachable,
//! per-replica counters in memory take over with the lower
//! `[limits.fallback]` thresholds (never unlimited); each transition is
//! logged once.
//!
//! [`Limits`] bundles this with the other guards of `[server]` and
//! `[limits]`: trusted proxies, the per-IP request ceiling and the load
//! shedder (see `web::client_ip`, `web::request_limits`, `web::shed`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;
use sp_registry::IdentifierKey;
use sso_store::Store;
use toml::Spanned;

use crate::config::{ConfigProblem, LoadedConfig};
use crate::web::client_ip::TrustedProxies;
use crate::web::request_limits::IpCeiling;
use crate::web::shed::LoadShedder;

/// Counters of one deployment: thresholds per scope (failures within the
/// window before delays start).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Failures of one account (all IPs).
    pub account: Spanned<u64>,
    /// Failures of one account from one client IP.
    pub account_ip: Spanned<u64>,
    /// Failures from one client IP (all accounts: password spraying).
    pub ip: Spanned<u64>,
}

impl Thresholds {
    fn of(account: u64, account_ip: u64, ip: u64) -> Self {
        Self {
            account: Spanned::new(0..0, account),
            account_ip: Spanned::new(0..0, account_ip),
            ip: Spanned::new(0..0, ip),
        }
    }

    fn get(&self, scope: Scope) -> u64 {
        *match scope {
            Scope::Account => &self.account,
            Scope::AccountIp => &self.account_ip,
            Scope::Ip => &self.ip,
        }
        .get_ref()
    }
}

/// `[limits]`: failure counting and the per-IP request ceiling.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// A counter lives this long after its last failure (seconds).
    pub window_seconds: Spanned<u64>,
    /// First delay once a threshold is reached (milliseconds).
    pub base_delay_ms: Spanned<u64>,
    /// Longest delay (milliseconds).
    pub max_delay_ms: Spanned<u64>,
    /// Thresholds with the shared store.
    pub thresholds: Thresholds,
    /// Lower thresholds of the per-replica counters used while the store is
    /// unreachable.
    pub fallback: Thresholds,
    /// Sustained requests per second allowed from one client IP.
    pub ip_requests_per_second: Spanned<u32>,
    /// Burst of requests allowed from one client IP above the sustained rate.
    pub ip_burst: Spanned<u32>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            window_seconds: Spanned::new(0..0, 900),
            base_delay_ms: Spanned::new(0..0, 250),
            max_delay_ms: Spanned::new(0..0, 4000),
            thresholds: Thresholds::of(200, 100, 300),
            fallback: Thresholds::of(50, 25, 75),
            ip_requests_per_second: Spanned::new(0..0, 300),
            ip_burst: Spanned::new(0..0, 3000),
        }
    }
}

/// Largest window accepted (one day).
const MAX_WINDOW_SECONDS: u64 = 86_400;
/// Largest delay accepted (a client's request must not hang for long).
const MAX_DELAY_MS: u64 = 30_000;

/// Checks `[limits]` and the guards of `[server]`; each problem with its
/// file, line (when the value is in the file) and field.
pub fn check(loaded: &LoadedConfig) -> Vec<ConfigProblem> {
    let limits = &loaded.config.limits;
    let server = &loaded.config.server;
    let mut problems = Vec::new();
    let mut at = |spanned: &Spanned<u64>, field: &str, ok: bool, message: String| {
        if !ok {
            problems.push(located(loaded, spanned.span(), field, message));
        }
    };
    let window = *limits.window_seconds.get_ref();
    at(
        &limits.window_seconds,
        "limits.window_seconds",
        (1..=MAX_WINDOW_SECONDS).contains(&window),
        format!("{window} is outside 1 to {MAX_WINDOW_SECONDS} seconds"),
    );
    let base = *limits.base_delay_ms.get_ref();
    let max = *limits.max_delay_ms.get_ref();
    at(
        &limits.base_delay_ms,
        "limits.base_delay_ms",
        (1..=MAX_DELAY_MS).contains(&base),
        format!("{base} is outside 1 to {MAX_DELAY_MS} milliseconds"),
    );
    at(
        &limits.max_delay_ms,
        "limits.max_delay_ms",
        (base..=MAX_DELAY_MS).contains(&max),
        format!("{max} is outside base_delay_ms ({base}) to {MAX_DELAY_MS} milliseconds"),
    );
    for scope in Scope::ALL {
        let normal = limits.thresholds.get(scope);
        let fallback = limits.fallback.get(scope);
        let (normal_span, fallback_span) = match scope {
            Scope::Account => (&limits.thresholds.account, &limits.fallback.account),
            Scope::AccountIp => (&limits.thresholds.account_ip, &limits.fallback.account_ip),
            Scope::Ip => (&limits.thresholds.ip, &limits.fallback.ip),
        };
        at(
            normal_span,
            &format!("limits.thresholds.{}", scope.label()),
            normal >= 1,
            "a threshold is at least 1 failure".into(),
        );
        at(
            fallback_span,
            &format!("limits.fallback.{}", scope.label()),
            (1..=normal.max(1)).contains(&fallback),
            format!(
                "{fallback} must be between 1 and the shared threshold ({normal}): the fallback is more conservative, never unlimited"
            ),
        );
    }
    for (spanned, field) in [
        (
            &limits.ip_requests_per_second,
            "limits.ip_requests_per_second",
        ),
        (&limits.ip_burst, "limits.ip_burst"),
    ] {
        if *spanned.get_ref() == 0 {
            problems.push(located(loaded, spanned.span(), field, "must be at least 1"));
        }
    }
    for (index, entry) in server.trusted_proxies.iter().enumerate() {
        if let Err(err) = idp_connectors::headers::parse_proxy(entry.get_ref()) {
            problems.push(located(
                loaded,
                entry.span(),
                &format!("server.trusted_proxies[{index}]"),
                err.to_string(),
            ));
        }
    }
    let size = |spanned: &Spanned<usize>| {
        (
            spanned.span(),
            u64::try_from(*spanned.get_ref()).unwrap_or(u64::MAX),
        )
    };
    for ((span, value), field, least) in [
        (size(&server.max_in_flight), "server.max_in_flight", 1),
        (
            (
                server.queue_timeout_ms.span(),
                *server.queue_timeout_ms.get_ref(),
            ),
            "server.queue_timeout_ms",
            1,
        ),
        (size(&server.max_header_count), "server.max_header_count", 8),
        (
            size(&server.max_header_bytes),
            "server.max_header_bytes",
            1024,
        ),
        (size(&server.max_uri_bytes), "server.max_uri_bytes", 256),
    ] {
        if value < least {
            problems.push(located(
                loaded,
                span,
                field,
                format!("{value} is below the least sensible value, {least}"),
            ));
        }
    }
    problems
}

/// A problem at a value of the file, or at its field alone when the value
/// is a default (no span).
fn located(
    loaded: &LoadedConfig,
    span: std::ops::Range<usize>,
    field: &str,
    message: impl Into<String>,
) -> ConfigProblem {
    if span.is_empty() {
        ConfigProblem {
            file: loaded.path.clone(),
            line: None,
            field: Some(field.to_owned()),
            message: message.into(),
        }
    } else {
        loaded.problem_at(&Spanned::new(span, ()), field, message)
    }
}

/// The guards of one replica: who the client is, how many requests it may
/// make, how many requests the replica takes at once, and its failures.
#[derive(Debug)]
pub struct Limits {
    /// `[server] trusted_proxies`.
    pub trusted_proxies: TrustedProxies,
    /// Per-IP request ceiling.
    pub ceiling: IpCeiling,
    /// Bounded in-flight requests and wait queue.
    pub shed: LoadShedder,
    /// Failure counting.
    pub failures: FailureLimiter,
}

impl Limits {
    /// The guards of a validated configuration, counting failures in `store`
    /// under names keyed with `key`.
    pub fn new(
        config: &crate::config::GatewayConfig,
        store: Arc<dyn Store>,
        key: IdentifierKey,
    ) -> Self {
        let server = &config.server;
        Self {
            trusted_proxies: TrustedProxies::from_config(&server.trusted_proxies),
            ceiling: IpCeiling::new(
                *config.limits.ip_requests_per_second.get_ref(),
                *config.limits.ip_burst.get_ref(),
            ),
            shed: LoadShedder::new(
                *server.max_in_flight.get_ref(),
                server.max_queued,
                Duration::from_millis(*server.queue_timeout_ms.get_ref()),
            ),
            failures: FailureLimiter::new(&config.limits, store, key),
        }
    }
}

/// A scope of failure counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One account, every IP.
    Account,
    /// One account from one IP.
    AccountIp,
    /// One IP, every account.
    Ip,
}

impl Scope {
    const ALL: [Scope; 3] = [Scope::Account, Scope::AccountIp, Scope::Ip];

    /// This scope's entry of thresholds kept in [`Scope::ALL`] order.
    fn of(self, thresholds: &[u64; 3]) -> u64 {
        match self {
            Scope::Account => thresholds[0],
            Scope::AccountIp => thresholds[1],
            Scope::Ip => thresholds[2],
        }
    }

    /// The metric label and configuration name.
    pub fn label(self) -> &'static str {
        match self {
            Scope::Account => "account",
            Scope::AccountIp => "account_ip",
            Scope::Ip => "ip",
        }
    }
}

/// The account a credential claims to be.
#[derive(Debug, Clone, Copy)]
pub enum Account<'a> {
    /// An OIDC client, by client id.
    OidcClient(&'a str),
    /// A CAS service, by registered service id (or the claimed URL when no
    /// service matches).
    CasService(&'a str),
}

impl Account<'_> {
    fn material(self) -> String {
        match self {
            Account::OidcClient(id) => format!("oidc-client\0{id}"),
            Account::CasService(id) => format!("cas-service\0{id}"),
        }
    }
}

/// The delay before the next check, `count` failures having been seen
/// against `threshold`: none below it, then `base` doubling per further
/// failure, at most `max`.
pub fn delay_for(count: u64, threshold: u64, base: Duration, max: Duration) -> Duration {
    if count < threshold {
        return Duration::ZERO;
    }
    let doublings = u32::try_from(count - threshold).unwrap_or(u32::MAX).min(20);
    base.saturating_mul(1u32 << doublings).min(max)
}

/// Most per-replica fallback counters kept at once.
const MAX_LOCAL_COUNTERS: usize = 100_000;

/// Per-replica counters: a count and when it lapses.
#[derive(Debug, Default)]
struct LocalCounters {
    entries: HashMap<String, (u64, Instant)>,
}

impl LocalCounters {
    fn get(&self, key: &str, now: Instant) -> u64 {
        self.entries
            .get(key)
            .filter(|(_, until)| *until > now)
            .map_or(0, |(count, _)| *count)
    }

    fn incr(&mut self, key: &str, window: Duration, now: Instant) {
        if self.entries.len() >= MAX_LOCAL_COUNTERS && !self.entries.contains_key(key) {
            self.entries.retain(|_, (_, until)| *until > now);
            if self.entries.len() >= MAX_LOCAL_COUNTERS {
                let victim = self.entries.keys().next().cloned();
                if let Some(victim) = victim {
                    self.entries.remove(&victim);
                }
            }
        }
        let entry = self.entries.entry(key.to_owned()).or_insert((0, now));
        if entry.1 <= now {
            entry.0 = 0;
        }
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now + window;
    }
}

/// Counts failures and computes the delay before each check.
pub struct FailureLimiter {
    store: Arc<dyn Store>,
    key: IdentifierKey,
    window: Duration,
    base_delay: Duration,
    max_delay: Duration,
    shared: [u64; 3],
    fallback: [u64; 3],
    local: Mutex<LocalCounters>,
    degraded: AtomicBool,
    delayed: AtomicU64,
}

impl std::fmt::Debug for FailureLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailureLimiter")
            .field("window", &self.window)
            .field("shared", &self.shared)
            .field("fallback", &self.fallback)
            .finish_non_exhaustive()
    }
}

/// One credential check in progress: report its failure with
/// [`Attempt::failed`]; a success needs nothing.
#[derive(Debug)]
#[must_use = "a failed check must be reported with `failed`"]
pub struct Attempt<'l> {
    limiter: &'l FailureLimiter,
    keys: Vec<String>,
}

impl Attempt<'_> {
    /// Counts the failure in every scope of the attempt.
    pub async fn failed(self) {
        self.limiter.record_failure(&self.keys).await;
    }
}

impl FailureLimiter {
    /// A limiter over `store`, counter names keyed with `key`.
    pub fn new(config: &LimitsConfig, store: Arc<dyn Store>, key: IdentifierKey) -> Self {
        let thresholds = |t: &Thresholds| Scope::ALL.map(|scope| t.get(scope));
        Self {
            store,
            key,
            window: Duration::from_secs(*config.window_seconds.get_ref()),
            base_delay: Duration::from_millis(*config.base_delay_ms.get_ref()),
            max_delay: Duration::from_millis(*config.max_delay_ms.get_ref()),
            shared: thresholds(&config.thresholds),
            fallback: thresholds(&config.fallback),
            local: Mutex::default(),
            degraded: AtomicBool::new(false),
            delayed: AtomicU64::new(0),
        }
    }

    /// The counter names of the scopes an attempt touches, in
    /// [`Scope::ALL`] order (the account scopes only with an account).
    fn keys(&self, account: Option<Account<'_>>, ip: IpAddr) -> Vec<(Scope, String)> {
        let digest = |scope: Scope, material: &str| {
            format!(
                "limits:fail:{}:{}",
                scope.label(),
                self.key.keyed_digest("rate-limit", material)
            )
        };
        let ip = idp_connectors::headers::canonical(ip).to_string();
        let mut keys = Vec::with_capacity(3);
        if let Some(account) = account {
            let material = account.material();
            keys.push((Scope::Account, digest(Scope::Account, &material)));
            keys.push((
                Scope::AccountIp,
                digest(Scope::AccountIp, &format!("{material}\0{ip}")),
            ));
        }
        keys.push((Scope::Ip, digest(Scope::Ip, &ip)));
        keys
    }

    /// The current counts of `keys` and the thresholds that apply to them:
    /// the shared store's, or the per-replica fallback's when the store
    /// does not answer.
    async fn counts(&self, keys: &[(Scope, String)]) -> (Vec<u64>, [u64; 3]) {
        let names: Vec<String> = keys.iter().map(|(_, key)| key.clone()).collect();
        match self.store.get_many(&names).await {
            Ok(values) => {
                self.set_degraded(false, None);
                let counts = values
                    .iter()
                    .map(|value| {
                        value
                            .as_deref()
                            .and_then(|bytes| std::str::from_utf8(bytes).ok())
                            .and_then(|text| text.parse::<u64>().ok())
                            .unwrap_or(0)
                    })
                    .collect();
                (counts, self.shared)
            }
            Err(error) => {
                self.set_degraded(true, Some(&error));
                let now = Instant::now();
                let local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
                let counts = names.iter().map(|key| local.get(key, now)).collect();
                (counts, self.fallback)
            }
        }
    }

    /// The delay a check for `account` from `ip` would wait now, recording
    /// the decision of each scope (`sso_rate_limit_decisions_total`).
    pub async fn current_delay(&self, account: Option<Account<'_>>, ip: IpAddr) -> Duration {
        let keys = self.keys(account, ip);
        self.delay_of(&keys).await
    }

    async fn delay_of(&self, keys: &[(Scope, String)]) -> Duration {
        let (counts, thresholds) = self.counts(keys).await;
        let mut delay = Duration::ZERO;
        for ((scope, _), count) in keys.iter().zip(counts) {
            let threshold = scope.of(&thresholds);
            let this = delay_for(count, threshold, self.base_delay, self.max_delay);
            let decision = if this.is_zero() { "allowed" } else { "delayed" };
            metrics::counter!(
                "sso_rate_limit_decisions_total",
                "scope" => scope.label(),
                "decision" => decision
            )
            .increment(1);
            delay = delay.max(this);
        }
        if !delay.is_zero() {
            self.delayed.fetch_add(1, Ordering::Relaxed);
        }
        delay
    }

    /// Waits the delay the current failure counts call for, then lets the
    /// credential be checked.
    pub async fn before_check(&self, account: Option<Account<'_>>, ip: IpAddr) -> Attempt<'_> {
        let keys = self.keys(account, ip);
        let delay = self.delay_of(&keys).await;
        if !delay.is_zero() {
            tracing::info!(
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "credential check delayed after repeated failures"
            );
            tokio::time::sleep(delay).await;
        }
        Attempt {
            limiter: self,
            keys: keys.into_iter().map(|(_, key)| key).collect(),
        }
    }

    async fn record_failure(&self, keys: &[String]) {
        for key in keys {
            match self.store.incr(key, self.window).await {
                Ok(_) => self.set_degraded(false, None),
                Err(error) => {
                    self.set_degraded(true, Some(&error));
                    self.local
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .incr(key, self.window, Instant::now());
                }
            }
        }
    }

    /// How many checks were delayed on this replica since it started.
    pub fn delayed_checks(&self) -> u64 {
        self.delayed.load(Ordering::Relaxed)
    }

    /// Records a transition between the shared counters and the fallback,
    /// logged once per transition.
    fn set_degraded(&self, degraded: bool, error: Option<&sso_store::StoreError>) {
        if self.degraded.swap(degraded, Ordering::Relaxed) != degraded {
            if degraded {
                tracing::warn!(
                    error = error.map(ToString::to_string),
                    "failure counters: store unreachable, per-replica fallback counters in force"
                );
            } else {
                tracing::info!("failure counters: store reachable again, shared counters in force");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_millis(1000);

    #[test]
    fn no_delay_below_the_threshold_then_doubling_up_to_the_cap() {
        assert_eq!(delay_for(0, 3, BASE, MAX), Duration::ZERO);
        assert_eq!(delay_for(2, 3, BASE, MAX), Duration::ZERO);
        assert_eq!(delay_for(3, 3, BASE, MAX), BASE);
        assert_eq!(delay_for(4, 3, BASE, MAX), BASE * 2);
        assert_eq!(delay_for(5, 3, BASE, MAX), BASE * 4);
        assert_eq!(delay_for(7, 3, BASE, MAX), MAX);
        assert_eq!(delay_for(u64::MAX, 3, BASE, MAX), MAX);
    }

    #[test]
    fn local_counters_lapse_after_the_window() {
        let mut local = LocalCounters::default();
        let now = Instant::now();
        let window = Duration::from_secs(10);
        local.incr("a", window, now);
        local.incr("a", window, now);
        assert_eq!(local.get("a", now), 2);
        assert_eq!(local.get("b", now), 0);
        let later = now + window + Duration::from_secs(1);
        assert_eq!(local.get("a", later), 0);
        local.incr("a", window, later);
        assert_eq!(local.get("a", later), 1);
    }

    fn limiter(store: Arc<dyn Store>) -> FailureLimiter {
        let config = LimitsConfig {
            thresholds: Thresholds::of(100, 2, 3),
            base_delay_ms: Spanned::new(0..0, 1),
            max_delay_ms: Spanned::new(0..0, 4),
            ..LimitsConfig::default()
        };
        let key = IdentifierKey::from_bytes(&[7u8; 32]).unwrap();
        FailureLimiter::new(&config, store, key)
    }

    #[tokio::test]
    async fn failures_delay_their_account_and_ip_only() {
        let store: Arc<dyn Store> = Arc::new(sso_store::MemoryStore::new());
        let limiter = limiter(Arc::clone(&store));
        let attacker: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let account = Some(Account::OidcClient("ent"));
        for _ in 0..2 {
            assert_eq!(
                limiter.current_delay(account, attacker).await,
                Duration::ZERO
            );
            limiter.before_check(account, attacker).await.failed().await;
        }
        assert!(!limiter.current_delay(account, attacker).await.is_zero());
        assert_eq!(limiter.current_delay(account, other).await, Duration::ZERO);
        assert_eq!(
            limiter
                .current_delay(Some(Account::OidcClient("other")), attacker)
                .await,
            Duration::ZERO
        );
        limiter
            .before_check(Some(Account::CasService("ent")), attacker)
            .await
            .failed()
            .await;
        assert!(
            !limiter
                .current_delay(Some(Account::OidcClient("other")), attacker)
                .await
                .is_zero(),
            "three failures from one IP, whatever the accounts"
        );
    }

    #[test]
    fn counter_names_reveal_neither_ip_nor_account() {
        let limiter = limiter(Arc::new(sso_store::MemoryStore::new()));
        let keys = limiter.keys(
            Some(Account::OidcClient("client-ent")),
            "192.0.2.77".parse().unwrap(),
        );
        assert_eq!(keys.len(), 3);
        for (_, key) in keys {
            assert!(key.starts_with("limits:fail:"), "{key}");
            assert!(
                !key.contains("192.0.2.77") && !key.contains("client-ent"),
                "{key}"
            );
        }
    }
}
