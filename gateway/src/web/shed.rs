//! Load shedding (issue 7, "Overload and abuse": "503 + Retry-After rather
//! than collapse"). A replica handles at most `[server] max_in_flight`
//! requests at once; up to `max_queued` more wait at most
//! `queue_timeout_ms` for a place; any other request is answered at once
//! with 503, `Retry-After` and the French "service momentanément
//! indisponible" page, without touching cookies, so that a saturated
//! replica keeps its latency for the requests it accepted instead of
//! queueing without bound. `/healthz` and `/readyz` are exempt.
//!
//! Metrics: `sso_requests_in_flight` (gauge) and `sso_load_shed_total{reason}`
//! (`queue_full`, `queue_timeout`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::WebError;
use crate::state::AppState;

/// Seconds a shed client is asked to wait.
const RETRY_AFTER_SECONDS: &str = "2";

/// Why a request was shed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// Every place and every queue slot was taken.
    QueueFull,
    /// The request waited `queue_timeout_ms` in the queue.
    QueueTimeout,
}

impl Shed {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Shed::QueueFull => "queue_full",
            Shed::QueueTimeout => "queue_timeout",
        }
    }
}

/// Bounded in-flight requests and wait queue of one replica.
#[derive(Debug)]
pub struct LoadShedder {
    permits: Arc<Semaphore>,
    max_queued: usize,
    queued: AtomicUsize,
    queue_timeout: Duration,
    in_flight: Arc<AtomicUsize>,
}

/// A place held by a request until it is dropped.
#[derive(Debug)]
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
    in_flight: Arc<AtomicUsize>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let now = self
            .in_flight
            .fetch_sub(1, Ordering::Relaxed)
            .saturating_sub(1);
        metrics::gauge!("sso_requests_in_flight").set(now as f64);
    }
}

impl LoadShedder {
    /// At most `max_in_flight` requests at once (at least one), `max_queued`
    /// waiting at most `queue_timeout`.
    pub fn new(max_in_flight: usize, max_queued: usize, queue_timeout: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_in_flight.max(1))),
            max_queued,
            queued: AtomicUsize::new(0),
            queue_timeout,
            in_flight: Arc::default(),
        }
    }

    /// A place for one request, or why there is none.
    pub async fn admit(&self) -> Result<Admitted, Shed> {
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.queued.fetch_add(1, Ordering::AcqRel) >= self.max_queued {
                    self.queued.fetch_sub(1, Ordering::AcqRel);
                    return Err(Shed::QueueFull);
                }
                let waited = tokio::time::timeout(
                    self.queue_timeout,
                    Arc::clone(&self.permits).acquire_owned(),
                )
                .await;
                self.queued.fetch_sub(1, Ordering::AcqRel);
                match waited {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) | Err(_) => return Err(Shed::QueueTimeout),
                }
            }
        };
        let now = self
            .in_flight
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        metrics::gauge!("sso_requests_in_flight").set(now as f64);
        Ok(Admitted {
            _permit: permit,
            in_flight: Arc::clone(&self.in_flight),
        })
    }
}

/// The middleware.
pub async fn shed(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if super::request_limits::exempt(request.uri().path()) {
        return next.run(request).await;
    }
    match state.limits.shed.admit().await {
        Ok(admitted) => {
            let response = next.run(request).await;
            drop(admitted);
            response
        }
        Err(reason) => {
            metrics::counter!("sso_load_shed_total", "reason" => reason.label()).increment(1);
            let mut response = super::with_page(
                &state,
                WebError::Overloaded(format!("load shed: {}", reason.label())).into_response(),
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn beyond_the_places_and_the_queue_requests_are_shed() {
        let shedder = LoadShedder::new(1, 0, Duration::from_millis(10));
        let first = shedder.admit().await.unwrap();
        assert_eq!(shedder.admit().await.unwrap_err(), Shed::QueueFull);
        drop(first);
        assert!(shedder.admit().await.is_ok(), "the place is free again");
    }

    #[tokio::test]
    async fn a_queued_request_waits_then_times_out_or_gets_the_place() {
        let shedder = Arc::new(LoadShedder::new(1, 1, Duration::from_millis(50)));
        let first = shedder.admit().await.unwrap();
        assert_eq!(shedder.admit().await.unwrap_err(), Shed::QueueTimeout);
        let waiting = {
            let shedder = Arc::clone(&shedder);
            tokio::spawn(async move { shedder.admit().await.map(drop) })
        };
        tokio::task::yield_now().await;
        drop(first);
        assert_eq!(waiting.await.unwrap(), Ok(()));
    }
}
