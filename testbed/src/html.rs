//! Reading the pages the gateway and the simulators serve, as a browser
//! would: the links of a page, its first POST form with its hidden
//! fields, and the auto-submitting forms of the SAML HTTP-POST binding
//! (SAML 2.0 Bindings §3.5). Used by the end-to-end tests and by the
//! load generator's simulated browsers.
//!
//! The pages are ours and simple: attributes in double quotes, hidden
//! inputs written `type="hidden" name=".." value=".."`. Values are
//! unescaped for the entities minijinja and the simulators write.

use std::sync::LazyLock;

use regex::Regex;

static HREF: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r#"href="([^"]*)""#).ok());
static POST_FORM: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"<form[^>]*method="post"[^>]*action="([^"]*)""#).ok());
static HIDDEN: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"<input type="hidden" name="([^"]+)" value="([^"]*)""#).ok());

/// A POST form: its action (as written, unescaped) and hidden fields.
pub type Form = (String, Vec<(String, String)>);

/// An attribute value with the HTML entities our pages use decoded.
pub fn unescape(value: &str) -> String {
    value
        .replace("&#x2f;", "/")
        .replace("&#x3d;", "=")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Every link target of a page, unescaped, in order.
pub fn links(body: &str) -> Vec<String> {
    HREF.as_ref()
        .map(|href| {
            href.captures_iter(body)
                .filter_map(|c| c.get(1))
                .map(|m| unescape(m.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

/// The first link of a page whose target contains `part`.
pub fn link(body: &str, part: &str) -> Option<String> {
    links(body).into_iter().find(|target| target.contains(part))
}

/// The action and hidden fields of the first POST form of a page.
pub fn form(body: &str) -> Option<Form> {
    let action = POST_FORM.as_ref()?.captures(body)?.get(1)?.as_str();
    let fields = HIDDEN
        .as_ref()?
        .captures_iter(body)
        .filter_map(|c| Some((c.get(1)?.as_str().to_owned(), unescape(c.get(2)?.as_str()))))
        .collect();
    Some((unescape(action), fields))
}

/// The form of a page that carries a SAML message (HTTP-POST binding).
pub fn saml_form(body: &str) -> Option<Form> {
    if !body.contains("name=\"SAMLResponse\"") && !body.contains("name=\"SAMLRequest\"") {
        return None;
    }
    form(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_unescaped_and_found_by_part() {
        let body = r#"<a href="&#x2f;login&#x2f;educonnect?flow&#x3d;abc&amp;x=1">É</a><a href="/other">o</a>"#;
        assert_eq!(links(body).len(), 2);
        assert_eq!(
            link(body, "/login/educonnect").as_deref(),
            Some("/login/educonnect?flow=abc&x=1")
        );
        assert_eq!(link(body, "/nowhere"), None);
    }

    #[test]
    fn forms_give_their_action_and_hidden_fields() {
        let body = r#"<form method="post" action="https://sp.example/acs"><input type="hidden" name="SAMLResponse" value="PHg&#x2f;Pg&#x3d;&#x3d;"><input type="hidden" name="RelayState" value="r&amp;1"></form>"#;
        let (action, fields) = saml_form(body).unwrap();
        assert_eq!(action, "https://sp.example/acs");
        assert_eq!(
            fields,
            [
                ("SAMLResponse".to_owned(), "PHg/Pg==".to_owned()),
                ("RelayState".to_owned(), "r&1".to_owned())
            ]
        );
        let login = r#"<form method="post" action="/login"><input type="hidden" name="pending" value="p1"></form>"#;
        assert!(saml_form(login).is_none(), "no SAML message in it");
        assert_eq!(form(login).unwrap().1.len(), 1);
        assert!(form("<p>no form</p>").is_none());
    }
}
