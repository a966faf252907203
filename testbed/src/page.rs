//! The HTML pages of the simulators: French, accessible (RGAA: `lang`, a
//! `<title>`, a `<main>` landmark, headings, labelled controls, visible focus,
//! contrast of at least 4.5:1, usable with the keyboard), a few lines of inline
//! CSS, no external asset and no script. Every page carries the banner
//! "Simulation — environnement de démonstration" so that nobody mistakes a
//! simulator for the real service. Every value that comes from a request or
//! from a SAML message goes through [`escape`]. A Content-Security-Policy
//! allows the inline style and only the auto-submit script of SAML POST forms.

use axum::http::StatusCode;
use axum::http::header::CONTENT_SECURITY_POLICY;
use axum::response::{Html, IntoResponse, Response};
use sso_saml::binding;

const STYLE: &str = "body{margin:0;font-family:system-ui,sans-serif;line-height:1.5;color:#1e1e1e;background:#fff}\
.sim{margin:0;padding:.5rem 1rem;background:#fff4d6;color:#3b2a00;border-bottom:2px solid #7a5800;font-weight:bold}\
main{max-width:52rem;margin:0 auto;padding:1rem}\
a{color:#000091}\
button{font:inherit;padding:.5rem 1rem;border:2px solid #000091;border-radius:4px;background:#000091;color:#fff;cursor:pointer}\
fieldset{border:1px solid #6a6a6a;border-radius:4px;margin:0 0 1rem}\
label{display:block;padding:.25rem 0}\
small{color:#3a3a3a}\
table{border-collapse:collapse;width:100%}\
th,td{border:1px solid #6a6a6a;padding:.25rem .5rem;text-align:left;vertical-align:top;word-break:break-all}\
th{background:#ececf7}\
a:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid #b34000;outline-offset:2px}\
.error{border-left:4px solid #ce0500;padding-left:1rem}";

/// Escapes a value for HTML text and for quoted attribute values (the XML
/// attribute escaping of `sso_saml` covers both).
pub(crate) fn escape(value: &str) -> String {
    sso_saml::xml::escape_attr(value)
}

const BANNER: &str = "<p class=\"sim\" role=\"note\">Simulation — environnement de démonstration. \
Ce service n’est pas le service réel.</p>";

fn csp() -> String {
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src {}; base-uri 'none'; frame-ancestors 'none'",
        binding::post_form_script_csp_source()
    )
}

/// A complete page. `title` is plain text (escaped here); `body` is HTML the
/// caller built from escaped values.
pub(crate) fn render(title: &str, body: &str) -> String {
    let title = escape(title);
    format!(
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} — Simulation</title><style>{STYLE}</style></head><body>\
{BANNER}<main>{body}</main></body></html>\n"
    )
}

/// A page as a response with the given status.
pub(crate) fn respond(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        [(CONTENT_SECURITY_POLICY, csp())],
        Html(render(title, body)),
    )
        .into_response()
}

/// The auto-submitting SAML POST form of `sso_saml::binding::post_form`, with
/// the simulation banner added at the top of its body.
pub(crate) fn auto_post(form_html: &str) -> Response {
    let html = form_html.replacen("<body>", &format!("<body>\n{BANNER}"), 1);
    ([(CONTENT_SECURITY_POLICY, csp())], Html(html)).into_response()
}

/// An error page: `what` says which check failed (plain text).
pub(crate) fn error(status: StatusCode, service: &str, what: &str) -> Response {
    let body = format!(
        "<h1>{} — erreur</h1><div class=\"error\"><p>La demande a été refusée.</p>\
<p>Motif : {}</p></div>",
        escape(service),
        escape(what)
    );
    respond(status, &format!("{service} — erreur"), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;"
        );
        assert_eq!(escape("Léa Martin"), "Léa Martin");
    }

    #[test]
    fn the_auto_post_form_gets_the_banner_and_a_policy_allowing_its_script() {
        let form = binding::post_form(
            "https://gw.test/acs",
            binding::MessageKind::Response,
            "<x/>",
            None,
        );
        let response = auto_post(&form);
        let policy = response.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(policy.contains(&binding::post_form_script_csp_source()));
        assert!(policy.starts_with("default-src 'none'"));
    }

    #[test]
    fn every_page_is_french_titled_and_flagged_as_a_simulation() {
        let html = render("ÉduConnect <x>", "<h1>Titre</h1>");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<html lang=\"fr\">"));
        assert!(html.contains("<title>ÉduConnect &lt;x&gt; — Simulation</title>"));
        assert!(html.contains("Simulation — environnement de démonstration"));
        assert!(html.contains("<main><h1>Titre</h1></main>"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }
}
