//! Server-rendered pages: French, accessible (RGAA: language, title, headings,
//! labels, focus, contrast), a few kilobytes with no external asset, for slow
//! school connections. The legal notice footer shows on every page, before
//! login (domain reference §5).

use minijinja::{Environment, context};
use serde::Serialize;

use crate::legal::{Charter, Legal, Notice};

/// One button of the discovery page.
#[derive(Debug, Serialize)]
pub struct IdpChoice {
    /// Where it leads.
    pub href: String,
    /// Title ("Élève ou parent").
    pub label: String,
    /// Second line.
    pub description: Option<String>,
    /// The upstream's circuit breaker is open: the choice is marked
    /// "momentanément indisponible" (in words, not only by colour).
    pub unavailable: bool,
}

/// A service named on the logout page, with whether it answered.
#[derive(Debug, Serialize)]
pub struct LogoutOutcome {
    /// Display name.
    pub name: String,
    /// It confirmed the logout.
    pub ok: bool,
}

/// The page templates and the legal notice they show.
pub struct Pages {
    env: Environment<'static>,
    legal: Legal,
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages").finish_non_exhaustive()
    }
}

/// A template failed to render (a programming error, reported as a 500).
#[derive(Debug, thiserror::Error)]
#[error("page rendering failed: {0}")]
pub struct RenderError(String);

impl Pages {
    /// Compiles the embedded templates.
    pub fn new(legal: Legal) -> Result<Self, RenderError> {
        let mut env = Environment::new();
        let templates = [
            ("academie.html", include_str!("../templates/academie.html")),
            ("base.html", include_str!("../templates/base.html")),
            (
                "discovery.html",
                include_str!("../templates/discovery.html"),
            ),
            ("error.html", include_str!("../templates/error.html")),
            ("home.html", include_str!("../templates/home.html")),
            ("legal.html", include_str!("../templates/legal.html")),
            ("charter.html", include_str!("../templates/charter.html")),
            (
                "upstream_unavailable.html",
                include_str!("../templates/upstream_unavailable.html"),
            ),
            ("logout.html", include_str!("../templates/logout.html")),
            (
                "mediacentre.html",
                include_str!("../templates/mediacentre.html"),
            ),
            (
                "steering_me.html",
                include_str!("../templates/steering_me.html"),
            ),
            ("pilotage.html", include_str!("../templates/pilotage.html")),
        ];
        for (name, source) in templates {
            env.add_template(name, source)
                .map_err(|err| RenderError(err.to_string()))?;
        }
        Ok(Self { env, legal })
    }

    fn render(&self, name: &str, ctx: minijinja::Value) -> Result<String, RenderError> {
        self.env
            .get_template(name)
            .and_then(|template| template.render(context! { legal => &self.legal, ..ctx }))
            .map_err(|err| RenderError(err.to_string()))
    }

    /// The discovery page.
    pub fn discovery(
        &self,
        service: Option<&str>,
        idps: &[IdpChoice],
    ) -> Result<String, RenderError> {
        self.render("discovery.html", context! { service, idps })
    }

    /// The page of an upstream IdP that is momentarily unavailable (its
    /// circuit breaker is open, or it did not answer): `label` names it,
    /// `back` is the discovery page (of the same flow), offered to choose
    /// another way when `others` says there is one.
    pub fn upstream_unavailable(
        &self,
        label: &str,
        back: &str,
        others: bool,
    ) -> Result<String, RenderError> {
        self.render(
            "upstream_unavailable.html",
            context! { label, back, others },
        )
    }

    /// The choice of académie of a parent with children in several ones.
    pub fn academie_choice(
        &self,
        choice: &str,
        options: &[crate::join::AcademieOption],
    ) -> Result<String, RenderError> {
        self.render("academie.html", context! { choice, options })
    }

    /// The médiacentre: `None` without a session.
    pub fn mediacentre(
        &self,
        tiles: Option<&[crate::web::mediacentre::Tile]>,
    ) -> Result<String, RenderError> {
        self.render("mediacentre.html", context! { tiles })
    }

    /// The capacity and areas in which a steering user reads the statistics.
    pub fn steering_me(&self, label: &str, areas: &[String]) -> Result<String, RenderError> {
        self.render("steering_me.html", context! { label, areas })
    }

    /// An error page.
    pub fn error(
        &self,
        title: &str,
        message: &str,
        hint: Option<&str>,
        reference: Option<&str>,
    ) -> Result<String, RenderError> {
        self.render("error.html", context! { title, message, hint, reference })
    }

    /// The home page.
    pub fn home(
        &self,
        name: Option<&str>,
        steering: bool,
        demo: Option<&str>,
    ) -> Result<String, RenderError> {
        self.render("home.html", context! { name, steering, demo })
    }

    /// The steering dashboard (`crate::stats::web` prepares its context).
    pub fn pilotage(&self, ctx: minijinja::Value) -> Result<String, RenderError> {
        self.render("pilotage.html", ctx)
    }

    /// The legal notices and the charter the pages show.
    pub fn notices(&self) -> &Legal {
        &self.legal
    }

    /// The legal notice in force, with links to the earlier versions.
    pub fn legal(&self) -> Result<String, RenderError> {
        self.render(
            "legal.html",
            context! { notice => &self.legal.current, in_force => true },
        )
    }

    /// An earlier (or the current) version of the legal notice.
    pub fn legal_version(&self, notice: &Notice) -> Result<String, RenderError> {
        let in_force = notice.version == self.legal.current.version;
        self.render("legal.html", context! { notice, in_force })
    }

    /// The usage charter to accept: `request` names the pending login.
    pub fn charter(&self, request: &str, charter: &Charter) -> Result<String, RenderError> {
        self.render(
            "charter.html",
            context! { request, charter, refused => false },
        )
    }

    /// The end of a login whose charter was refused.
    pub fn charter_refused(&self) -> Result<String, RenderError> {
        self.render("charter.html", context! { refused => true })
    }

    /// The end of a logout.
    /// `return_to`: a registered service URL offered as a link (CAS
    /// `/cas/logout?service=`).
    pub fn logout(
        &self,
        services: &[LogoutOutcome],
        return_to: Option<&str>,
    ) -> Result<String, RenderError> {
        self.render("logout.html", context! { services, return_to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages() -> Pages {
        let published = chrono::NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
        Pages::new(Legal {
            operator: "Académie de démonstration".into(),
            dpo_contact: "dpd@example.fr".into(),
            current: Notice {
                version: "2026-09".into(),
                published,
                published_label: crate::legal::french_date(published),
                paragraphs: vec!["Traitement d'intérêt public.".into()],
            },
            previous: Vec::new(),
            charter: None,
        })
        .unwrap()
    }

    #[test]
    fn every_page_is_french_and_carries_the_legal_footer() {
        let pages = pages();
        let rendered = [
            pages
                .discovery(
                    Some("ENT <démo>"),
                    &[IdpChoice {
                        href: "/login/educonnect?flow=x".into(),
                        label: "Élève ou parent".into(),
                        description: Some("avec ÉduConnect".into()),
                        unavailable: false,
                    }],
                )
                .unwrap(),
            pages
                .upstream_unavailable("Élève ou parent", "/login?flow=x", true)
                .unwrap(),
            pages
                .error(
                    "Accès refusé",
                    "Ce service est réservé aux enseignants.",
                    None,
                    Some("r1"),
                )
                .unwrap(),
            pages.home(None, false, None).unwrap(),
            pages.legal().unwrap(),
            pages
                .charter(
                    "r1",
                    &Charter {
                        version: "2026-09".into(),
                        paragraphs: vec!["Je respecte les autres.".into()],
                        profiles: None,
                    },
                )
                .unwrap(),
            pages.charter_refused().unwrap(),
            pages
                .academie_choice(
                    "c1",
                    &[crate::join::AcademieOption {
                        academie: "AC-RENNES".into(),
                        children: vec!["Louis".into()],
                    }],
                )
                .unwrap(),
            pages
                .logout(
                    &[LogoutOutcome {
                        name: "ENT".into(),
                        ok: true,
                    }],
                    Some("https://res.example.fr/"),
                )
                .unwrap(),
        ];
        for page in &rendered {
            assert!(page.contains("<html lang=\"fr\">"));
            assert!(page.contains("<title>"));
            assert!(page.contains("Mentions légales, version 2026-09 du 1er septembre 2026"));
            assert!(page.contains("dpd@example.fr"));
            assert!(page.len() < 8 * 1024, "pages stay light");
        }
        assert!(
            rendered[0].contains("ENT &lt;démo&gt;"),
            "values are escaped"
        );
    }
}
