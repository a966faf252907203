//! What the probe reads in a page, as a browser would: its forms (action,
//! method, inputs) and its links, with HTML character references decoded.
//! Parsed with the `tl` HTML parser.

/// An input of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// `name` attribute.
    pub name: String,
    /// `type` attribute, lower-cased (`text` when absent).
    pub kind: String,
    /// `value` attribute (decoded), empty when absent.
    pub value: String,
}

/// A form of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// `action` attribute (decoded); `None` posts to the page itself.
    pub action: Option<String>,
    /// `post` or `get`.
    pub post: bool,
    /// Its named inputs, in order.
    pub inputs: Vec<Input>,
}

impl Form {
    /// The first input of type `kind`.
    pub fn input_of_kind(&self, kind: &str) -> Option<&Input> {
        self.inputs.iter().find(|i| i.kind == kind)
    }

    /// Whether it carries a SAML message (HTTP-POST binding auto-submit).
    pub fn is_saml_post(&self) -> bool {
        self.inputs
            .iter()
            .any(|i| i.kind == "hidden" && (i.name == "SAMLResponse" || i.name == "SAMLRequest"))
    }

    /// Its hidden fields.
    pub fn hidden(&self) -> Vec<(String, String)> {
        self.inputs
            .iter()
            .filter(|i| i.kind == "hidden")
            .map(|i| (i.name.clone(), i.value.clone()))
            .collect()
    }
}

/// The forms and links of a page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageModel {
    /// Forms, in order.
    pub forms: Vec<Form>,
    /// Link targets (`a[href]`, decoded), in order.
    pub links: Vec<String>,
}

fn attr(tag: &tl::HTMLTag<'_>, name: &str) -> Option<String> {
    tag.attributes()
        .get(name)
        .flatten()
        .map(|b| decode(&b.as_utf8_str()))
}

/// Reads the forms and links of `html`; a page that does not parse has
/// neither.
pub fn parse(html: &str) -> PageModel {
    let Ok(dom) = tl::parse(html, tl::ParserOptions::default()) else {
        return PageModel::default();
    };
    let parser = dom.parser();
    let mut page = PageModel::default();
    for handle in dom.query_selector("form").into_iter().flatten() {
        let Some(tag) = handle.get(parser).and_then(|n| n.as_tag()) else {
            continue;
        };
        let post = attr(tag, "method").is_some_and(|m| m.eq_ignore_ascii_case("post"));
        let mut inputs = Vec::new();
        for input in tag.query_selector(parser, "input").into_iter().flatten() {
            let Some(input) = input.get(parser).and_then(|n| n.as_tag()) else {
                continue;
            };
            let Some(name) = attr(input, "name") else {
                continue;
            };
            inputs.push(Input {
                name,
                kind: attr(input, "type")
                    .map(|k| k.to_ascii_lowercase())
                    .unwrap_or_else(|| "text".to_owned()),
                value: attr(input, "value").unwrap_or_default(),
            });
        }
        page.forms.push(Form {
            action: attr(tag, "action").filter(|a| !a.is_empty()),
            post,
            inputs,
        });
    }
    for handle in dom.query_selector("a[href]").into_iter().flatten() {
        if let Some(href) = handle
            .get(parser)
            .and_then(|n| n.as_tag())
            .and_then(|t| attr(t, "href"))
        {
            page.links.push(href);
        }
    }
    page
}

/// Decodes HTML character references: numeric ones and the five XML
/// entities (what templating engines write in attributes).
pub fn decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or_default());
        let after = rest.get(amp..).unwrap_or_default();
        let decoded = after.find(';').and_then(|semi| {
            let entity = after.get(1..semi)?;
            let ch = match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let code = if let Some(hex) = entity
                        .strip_prefix("#x")
                        .or_else(|| entity.strip_prefix("#X"))
                    {
                        u32::from_str_radix(hex, 16).ok()?
                    } else {
                        entity.strip_prefix('#')?.parse().ok()?
                    };
                    char::from_u32(code)?
                }
            };
            Some((ch, semi + 1))
        });
        match decoded {
            Some((ch, len)) => {
                out.push(ch);
                rest = after.get(len..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = after.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_inputs_and_links_are_read_and_decoded() {
        let page = parse(
            r#"<html><body><a href="&#x2f;login&#x2f;educonnect?flow&#x3d;a&amp;b=1">É</a>
<form method="POST" action="https://sp.example/acs"><input type="hidden" name="SAMLResponse" value="PHg+">
<input type="hidden" name="RelayState" value="r&amp;s"><noscript><button>Continuer</button></noscript></form>
<form action="/login" method="post"><input name="user"><input type="password" name="pw"></form></body></html>"#,
        );
        assert_eq!(page.links, vec!["/login/educonnect?flow=a&b=1".to_owned()]);
        assert_eq!(page.forms.len(), 2);
        let saml = &page.forms[0];
        assert!(saml.post && saml.is_saml_post());
        assert_eq!(
            saml.hidden(),
            vec![
                ("SAMLResponse".to_owned(), "PHg+".to_owned()),
                ("RelayState".to_owned(), "r&s".to_owned())
            ]
        );
        let login = &page.forms[1];
        assert!(!login.is_saml_post());
        assert_eq!(login.input_of_kind("text").unwrap().name, "user");
        assert_eq!(login.input_of_kind("password").unwrap().name, "pw");
    }

    #[test]
    fn character_references() {
        assert_eq!(decode("a&#39;b&#x27;c&lt;&gt;&quot;"), "a'b'c<>\"");
        assert_eq!(decode("R&D & co; &unknown;"), "R&D & co; &unknown;");
    }
}
