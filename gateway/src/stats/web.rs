//! The statistics over HTTP (issue 8, "Dashboards"): the operators' JSON
//! API `GET /admin/api/statistics` (bearer token, national scope), the
//! steering users' JSON API `GET /pilotage/api/statistiques` and page
//! `GET /pilotage` (a [`Viewer`], who sees only the areas inside their own
//! scopes), each also as CSV with `format=csv`.
//!
//! Parameters, the same everywhere: `level` (`ecole`, `circonscription`,
//! `commune`, `departement`, `academie`, `national`; default: the viewer's
//! first scope, or national for operators), `code` (the area's code),
//! `from` and `to` (`YYYY-MM-DD`, inclusive; default: the last 30 days),
//! `format` (`json`, `csv`; the page ignores it). JSON answers the
//! [`Report`] as it is (suppressed figures: `{"value": null, "suppressed":
//! true}`); CSV is `text/csv; charset=utf-8`, `;`-separated, columns
//! `tableau;libellé;mesure;valeur`, suppressed values `<5`.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{Days, NaiveDate, Utc};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::query::{Row, Table};
use super::raw::write_line;
use super::{Report, StatsError, chart, local_day_hour, query};
use crate::state::AppState;
use crate::viewer::{Level, Scope, Viewer};

/// Default period: this many days up to today.
const DEFAULT_DAYS: u64 = 30;

/// The query string of every statistics endpoint.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Params {
    /// Level of the area.
    pub level: Option<String>,
    /// Code of the area.
    pub code: Option<String>,
    /// First day.
    pub from: Option<String>,
    /// Last day.
    pub to: Option<String>,
    /// `json` or `csv`.
    pub format: Option<String>,
}

/// Why a statistics request is refused.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Unknown level.
    #[error(
        "level {0:?} is not one of ecole, circonscription, commune, departement, academie, national"
    )]
    Level(String),
    /// A level other than national without a code.
    #[error("level {0} needs a code")]
    MissingCode(&'static str),
    /// A date is not `YYYY-MM-DD`.
    #[error("{field} {value:?} is not a date (YYYY-MM-DD)")]
    Date {
        /// `from` or `to`.
        field: &'static str,
        /// What was given.
        value: String,
    },
    /// Unknown format.
    #[error("format {0:?} is neither json nor csv")]
    Format(String),
    /// The viewer has no scope at all.
    #[error("no area to show")]
    NoScope,
    /// The area is outside the viewer's scopes.
    #[error("this area is outside what you may see")]
    Forbidden,
    /// Reading the figures failed.
    #[error(transparent)]
    Stats(#[from] StatsError),
}

impl RequestError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Forbidden | Self::NoScope => StatusCode::FORBIDDEN,
            Self::Stats(StatsError::Store(error)) if error.is_unavailable() => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Stats(StatsError::Period(_)) => StatusCode::BAD_REQUEST,
            Self::Stats(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The message of the page, in French.
    fn french(&self) -> String {
        match self {
            Self::Level(_) => "Le niveau choisi n'existe pas.".into(),
            Self::MissingCode(_) => "Indiquez le code de la zone (UAI de l'école, code du département…).".into(),
            Self::Date { .. } => "Les dates doivent être au format AAAA-MM-JJ.".into(),
            Self::Format(_) => "Format inconnu.".into(),
            Self::NoScope => "Votre compte n'a accès à aucune zone.".into(),
            Self::Forbidden => "Cette zone ne fait pas partie de votre périmètre.".into(),
            Self::Stats(StatsError::Period(_)) => {
                "La période est invalide : la date de début doit précéder la date de fin, et la période ne pas dépasser 400 jours.".into()
            }
            Self::Stats(_) => "Les statistiques sont momentanément indisponibles. Réessayez dans quelques minutes.".into(),
        }
    }
}

/// What a request asks for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The area.
    pub scope: Scope,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// CSV rather than JSON.
    pub csv: bool,
}

fn parse_level(text: &str) -> Result<Level, RequestError> {
    match text {
        "ecole" => Ok(Level::Ecole),
        "circonscription" => Ok(Level::Circonscription),
        "commune" => Ok(Level::Commune),
        "departement" => Ok(Level::Departement),
        "academie" => Ok(Level::Academie),
        "national" => Ok(Level::National),
        other => Err(RequestError::Level(other.to_owned())),
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Ecole => "ecole",
        Level::Circonscription => "circonscription",
        Level::Commune => "commune",
        Level::Departement => "departement",
        Level::Academie => "academie",
        Level::National => "national",
    }
}

fn parse_date(field: &'static str, value: Option<&str>) -> Result<Option<NaiveDate>, RequestError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| RequestError::Date {
            field,
            value: text.to_owned(),
        }),
    }
}

/// Checks the parameters; `default` is the area when none is given.
pub fn wanted(params: &Params, default: Option<&Scope>) -> Result<Wanted, RequestError> {
    let level = params
        .level
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty());
    let scope = match level {
        None => default.cloned().ok_or(RequestError::NoScope)?,
        Some(level) => {
            let level = parse_level(level)?;
            let code = params.code.as_deref().map(str::trim).unwrap_or_default();
            if level == Level::National {
                Scope {
                    level,
                    code: String::new(),
                }
            } else if code.is_empty() {
                return Err(RequestError::MissingCode(level_name(level)));
            } else {
                Scope {
                    level,
                    code: code.to_owned(),
                }
            }
        }
    };
    let (today, _) = local_day_hour(Utc::now());
    let to = parse_date("to", params.to.as_deref())?.unwrap_or(today);
    let from = parse_date("from", params.from.as_deref())?.unwrap_or_else(|| {
        to.checked_sub_days(Days::new(DEFAULT_DAYS - 1))
            .unwrap_or(to)
    });
    let csv = match params.format.as_deref().unwrap_or("json") {
        "json" => false,
        "csv" => true,
        other => return Err(RequestError::Format(other.to_owned())),
    };
    Ok(Wanted {
        scope,
        from,
        to,
        csv,
    })
}

/// The report asked for, when `viewer` (none: an operator) may see it.
pub async fn report_for(
    state: &AppState,
    viewer: Option<&Viewer>,
    wanted: &Wanted,
) -> Result<Report, RequestError> {
    if let Some(viewer) = viewer {
        let geography = state.statistics.geography().current().await;
        if !viewer.may_see(&wanted.scope, &geography) {
            return Err(RequestError::Forbidden);
        }
    }
    let settings = state.statistics.settings();
    Ok(query(
        state.store.as_ref(),
        &wanted.scope,
        wanted.from,
        wanted.to,
        &settings,
    )
    .await?)
}

fn refusal(error: &RequestError) -> Response {
    (
        error.status(),
        Json(serde_json::json!({ "error": error.to_string() })),
    )
        .into_response()
}

async fn api(state: &AppState, viewer: Option<&Viewer>, params: &Params) -> Response {
    let default = match viewer {
        Some(viewer) => viewer.scopes.first().cloned(),
        None => Some(Scope {
            level: Level::National,
            code: String::new(),
        }),
    };
    let wanted = match wanted(params, default.as_ref()) {
        Ok(wanted) => wanted,
        Err(error) => return refusal(&error),
    };
    match report_for(state, viewer, &wanted).await {
        Ok(report) if wanted.csv => csv_response(&report),
        Ok(report) => Json(report).into_response(),
        Err(error) => {
            if matches!(error, RequestError::Stats(_)) {
                tracing::warn!(%error, "statistics report failed");
            }
            refusal(&error)
        }
    }
}

/// `GET /admin/api/statistics`: the operators' figures of any area.
pub async fn admin_statistics(
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> Response {
    api(&state, None, &params).await
}

/// `GET /pilotage/api/statistiques`: a steering user's figures of an area
/// inside their scopes.
pub async fn pilotage_api(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(params): Query<Params>,
) -> Response {
    api(&state, Some(&viewer), &params).await
}

/// The French names of the tables, in page order.
fn sections(report: &Report) -> [(&'static str, &'static str, &Table); 7] {
    [
        ("jours", "Connexions et accès par jour", &report.by_day),
        (
            "heures",
            "Connexions et accès par heure de la journée",
            &report.by_hour,
        ),
        (
            "profils",
            "Connexions et accès par profil",
            &report.by_profile,
        ),
        (
            "services",
            "Ressources et services les plus consultés",
            &report.by_service,
        ),
        (
            "idp",
            "Connexions par fournisseur d'identité",
            &report.by_idp,
        ),
        ("refus", "Accès refusés par motif", &report.refusals),
        (
            "echecs",
            "Connexions échouées par motif",
            &report.login_failures,
        ),
    ]
}

fn column_fr(column: &str) -> &'static str {
    match column {
        "logins" => "Connexions",
        "accesses" => "Accès",
        "refusals" => "Refus",
        _ => "Échecs",
    }
}

/// The French label of a row (profiles, refusal and failure families).
fn label_fr(label: &str) -> String {
    let known = match label {
        "National_ELV" => "Élève",
        "National_TUT" => "Parent ou responsable",
        "National_ENS" => "Enseignant",
        "National_DIR" => "Direction",
        "National_EVS" => "Vie scolaire",
        "National_ETA" => "Personnel administratif",
        "National_DOC" => "Documentaliste",
        "National_COL" => "Personnel de collectivité",
        "refused_subscription" => "Pas d'abonnement de l'établissement",
        "refused_policy" => "Profil, établissement ou niveau de connexion non autorisé",
        "error" => "Erreur",
        "invalid_response" => "Réponse refusée",
        "replay" => "Rejeu",
        "upstream_error" => "Fournisseur d'identité en erreur",
        "cancelled" => "Annulée",
        "untrusted_proxy" => "Proxy non reconnu",
        "refused_by_directory" => "Absent de l'annuaire",
        "expired" => "Demande expirée",
        "store_unavailable" => "Service indisponible",
        other => return other.to_owned(),
    };
    known.to_owned()
}

/// A figure as shown in French text.
fn shown(figure: &super::Figure, min_count: u64, csv: bool) -> String {
    match figure.value {
        Some(value) => value.to_string(),
        None if csv => format!("<{min_count}"),
        None => format!("< {min_count}"),
    }
}

/// The report as CSV (`tableau;libellé;mesure;valeur`).
pub fn report_csv(report: &Report) -> Result<Vec<u8>, std::io::Error> {
    let mut out = Vec::new();
    write_line(&mut out, ["tableau", "libellé", "mesure", "valeur"])?;
    for (_, title, table) in sections(report) {
        let total = Row {
            label: "Total".into(),
            figures: table.total.clone(),
        };
        for row in table.rows.iter().chain(std::iter::once(&total)) {
            for (column, figure) in table.columns.iter().zip(&row.figures) {
                write_line(
                    &mut out,
                    [
                        title.to_owned(),
                        label_fr(&row.label),
                        column_fr(column).to_owned(),
                        shown(figure, report.min_count, true),
                    ],
                )?;
            }
        }
    }
    Ok(out)
}

fn csv_response(report: &Report) -> Response {
    match report_csv(report) {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"statistiques.csv\"",
                ),
            ],
            body,
        )
            .into_response(),
        Err(error) => refusal(&RequestError::Stats(StatsError::Io(error))),
    }
}

/// One table of the page.
#[derive(Debug, Serialize)]
struct PageTable {
    id: &'static str,
    caption: &'static str,
    columns: Vec<&'static str>,
    rows: Vec<(String, Vec<String>)>,
    total: Vec<String>,
    chart: Option<String>,
}

/// One choice of the level list.
#[derive(Debug, Serialize)]
struct LevelChoice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

fn page_tables(report: &Report) -> Vec<PageTable> {
    let min = report.min_count;
    sections(report)
        .into_iter()
        .map(|(id, caption, table)| {
            let chart = matches!(id, "jours" | "heures").then(|| {
                let bars: Vec<(String, super::Figure)> = table
                    .rows
                    .iter()
                    .filter_map(|row| {
                        let label = row.label.get(5..).unwrap_or(&row.label).to_owned();
                        row.figures.first().map(|figure| (label, *figure))
                    })
                    .collect();
                let title = if id == "jours" {
                    "Graphique : connexions par jour (mêmes données que le tableau)"
                } else {
                    "Graphique : connexions par heure (mêmes données que le tableau)"
                };
                chart::bars(&format!("graphique-{id}"), title, &bars, min)
            });
            PageTable {
                id,
                caption,
                columns: table.columns.iter().map(|c| column_fr(c)).collect(),
                rows: table
                    .rows
                    .iter()
                    .map(|row| {
                        (
                            label_fr(&row.label),
                            row.figures.iter().map(|f| shown(f, min, false)).collect(),
                        )
                    })
                    .collect(),
                total: table.total.iter().map(|f| shown(f, min, false)).collect(),
                chart,
            }
        })
        .collect()
}

/// The page's HTML for `viewer` and `params`, with its status.
pub async fn render_page(
    state: &AppState,
    viewer: &Viewer,
    params: &Params,
) -> (StatusCode, String) {
    let outcome = match wanted(params, viewer.scopes.first()) {
        Ok(wanted) => report_for(state, Some(viewer), &wanted)
            .await
            .map(|report| (wanted, report)),
        Err(error) => Err(error),
    };
    let (status, error, tables, wanted) = match outcome {
        Ok((wanted, report)) => (StatusCode::OK, None, page_tables(&report), Some(wanted)),
        Err(error) => (error.status(), Some(error.french()), Vec::new(), None),
    };
    let selected = wanted
        .as_ref()
        .map(|w| w.scope.level)
        .or_else(|| params.level.as_deref().and_then(|l| parse_level(l).ok()));
    let levels: Vec<LevelChoice> = [
        (Level::Ecole, "École (UAI)"),
        (Level::Circonscription, "Circonscription"),
        (Level::Commune, "Commune"),
        (Level::Departement, "Département"),
        (Level::Academie, "Académie"),
        (Level::National, "National"),
    ]
    .into_iter()
    .map(|(level, label)| LevelChoice {
        value: level_name(level),
        label,
        selected: Some(level) == selected,
    })
    .collect();
    let (code, from, to) = match &wanted {
        Some(w) => (
            w.scope.code.clone(),
            w.from.format("%Y-%m-%d").to_string(),
            w.to.format("%Y-%m-%d").to_string(),
        ),
        None => (
            params.code.clone().unwrap_or_default(),
            params.from.clone().unwrap_or_default(),
            params.to.clone().unwrap_or_default(),
        ),
    };
    let csv_link = wanted.as_ref().map(|w| {
        let query = serde_urlencoded::to_string([
            ("level", level_name(w.scope.level)),
            ("code", w.scope.code.as_str()),
            ("from", from.as_str()),
            ("to", to.as_str()),
            ("format", "csv"),
        ])
        .unwrap_or_default();
        format!("/pilotage/api/statistiques?{query}")
    });
    let rendered = state.pages.pilotage(context! {
        viewer => &viewer.label,
        levels,
        code,
        from,
        to,
        error,
        tables,
        csv_link,
        min_count => state.statistics.settings().min_count,
    });
    match rendered {
        Ok(body) => (status, body),
        Err(error) => {
            tracing::error!(%error, "steering page rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "La page n'a pas pu être affichée.".to_owned(),
            )
        }
    }
}

/// `GET /pilotage`: the steering page.
pub async fn pilotage_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(params): Query<Params>,
) -> Response {
    let (status, body) = render_page(&state, &viewer, &params).await;
    (status, Html(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(level: &str, code: &str, from: &str, to: &str) -> Params {
        Params {
            level: Some(level.into()),
            code: Some(code.into()),
            from: Some(from.into()),
            to: Some(to.into()),
            format: None,
        }
    }

    #[test]
    fn parameters_are_checked_one_by_one() {
        let good = wanted(
            &params("ecole", "0350001A", "2026-11-01", "2026-11-23"),
            None,
        )
        .unwrap();
        assert_eq!(good.scope.level, Level::Ecole);
        assert!(!good.csv);
        assert!(matches!(
            wanted(&params("planete", "x", "", ""), None),
            Err(RequestError::Level(_))
        ));
        assert!(matches!(
            wanted(&params("ecole", " ", "", ""), None),
            Err(RequestError::MissingCode("ecole"))
        ));
        assert!(matches!(
            wanted(&params("ecole", "0350001A", "23/11/2026", ""), None),
            Err(RequestError::Date { field: "from", .. })
        ));
        let mut csv = params("national", "", "", "");
        csv.format = Some("csv".into());
        let csv = wanted(&csv, None).unwrap();
        assert!(csv.csv);
        assert_eq!((csv.to - csv.from).num_days(), 29);
        let mut xml = params("national", "", "", "");
        xml.format = Some("xml".into());
        assert!(matches!(wanted(&xml, None), Err(RequestError::Format(_))));
        assert!(matches!(
            wanted(&Params::default(), None),
            Err(RequestError::NoScope)
        ));
    }
}
