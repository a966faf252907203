//! The attribute names the simulated IdPs send (domain reference §2).
//!
//! ÉduConnect: NameFormat `urn:oasis:names:tc:SAML:2.0:attrname-format:uri`,
//! names `urn:oid:1.3.6.1.4.1.20326.10.999.1.<suffix>`, plus `sn` and
//! `givenName` by their X.500 OIDs. `FrEduCtRefId` has no documented OID: the
//! simulator sends it under the plain name `FrEduCtRefId` with the `basic`
//! NameFormat.
//!
//! ÉduConnect's OpenID Connect userinfo carries the same names as JSON claims
//! (`FrEduCtPersonAffiliation` as an array), next to the standard `sub`,
//! `given_name` and `family_name`.
//!
//! Agents: the header names of the ARENA reverse-proxy agent, used as SAML
//! attribute names with the `basic` NameFormat.

/// Prefix of ÉduConnect's attribute OIDs.
pub const EDUCONNECT_PREFIX: &str = "urn:oid:1.3.6.1.4.1.20326.10.999.1.";
/// `FrEduCtDateConnexion` (suffix 6), `YYYY-MM-DD HH:MM:SS.mmm`.
pub const FR_EDU_CT_DATE_CONNEXION: &str = "urn:oid:1.3.6.1.4.1.20326.10.999.1.6";
/// `FrEduCtPersonAffiliation` (suffix 7): `eleve1d`, `eleve2d`, `resp1d`, `resp2d`.
pub const FR_EDU_CT_PERSON_AFFILIATION: &str = "urn:oid:1.3.6.1.4.1.20326.10.999.1.7";
/// `FrEduCtId` (suffix 57), 96 hex characters.
pub const FR_EDU_CT_ID: &str = "urn:oid:1.3.6.1.4.1.20326.10.999.1.57";
/// `FrEduCtEleveINEHash` (suffix 64), 32 hex characters, pupils only.
pub const FR_EDU_CT_ELEVE_INE_HASH: &str = "urn:oid:1.3.6.1.4.1.20326.10.999.1.64";
/// `FrEduCtDateNaissance` (suffix 67), `YYYY-MM-DD`.
pub const FR_EDU_CT_DATE_NAISSANCE: &str = "urn:oid:1.3.6.1.4.1.20326.10.999.1.67";
/// `FrEduCtEleveUAI` (suffix 72), pupils only.
pub const FR_EDU_CT_ELEVE_UAI: &str = "urn:oid:1.3.6.1.4.1.20326.10.999.1.72";
/// `FrEduCtEleveNiveau` (suffix 73), MEF-STAT4 code, pupils only.
pub const FR_EDU_CT_ELEVE_NIVEAU: &str = "urn:oid:1.3.6.1.4.1.20326.10.999.1.73";
/// `sn` (family name).
pub const SN: &str = "urn:oid:2.5.4.4";
/// `givenName`.
pub const GIVEN_NAME: &str = "urn:oid:2.5.4.42";
/// `FrEduCtRefId` (multi-valued, `{AAF}<académie>||<jointure>`): plain name, no OID documented.
pub const FR_EDU_CT_REF_ID: &str = "FrEduCtRefId";

/// Agents: academic e-mail address.
pub const CT_EMAIL: &str = "ctemail";
/// Agents: given name.
pub const CT_FN: &str = "ctfn";
/// Agents: family name.
pub const CT_LN: &str = "ctln";
/// Agents: one `uai$UAJ$PU$N$T3$CLG$340` vector per structure.
pub const FR_EDU_RNE: &str = "FrEduRne";
/// Agents: administrative function (`ENS`, `DIR`).
pub const FR_EDU_FONCT_ADM: &str = "FrEduFonctAdm";
/// Agents: the login.
pub const CT_REMOTE_USER: &str = "ct-remote-user";

/// OIDC claim: `FrEduCtPersonAffiliation`, an array (`eleve1d`, `resp2d`, ...).
pub const CLAIM_FR_EDU_CT_PERSON_AFFILIATION: &str = "FrEduCtPersonAffiliation";
/// OIDC claim: `FrEduCtId`, 96 hex characters.
pub const CLAIM_FR_EDU_CT_ID: &str = "FrEduCtId";
/// OIDC claim: `FrEduCtRefId`, an array of `{AAF}<académie>||<jointure>` values.
pub const CLAIM_FR_EDU_CT_REF_ID: &str = "FrEduCtRefId";
/// OIDC claim: `FrEduCtEleveUAI`, pupils only.
pub const CLAIM_FR_EDU_CT_ELEVE_UAI: &str = "FrEduCtEleveUAI";
/// OIDC claim: `FrEduCtEleveNiveau`, MEF-STAT4 code, pupils only.
pub const CLAIM_FR_EDU_CT_ELEVE_NIVEAU: &str = "FrEduCtEleveNiveau";
