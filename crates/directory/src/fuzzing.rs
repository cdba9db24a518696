//! Entry points for the fuzz targets in `fuzz/` (and their corpus replay
//! in the normal test run): each takes raw bytes as a server could send
//! them and runs the parser that reads them. Not an API: any answer is
//! fine, a panic is a bug.

/// LDAP answer handling: the paged-results control's cookie (BER), the
/// Active Directory sub-code in a diagnostic message, and its explanation.
pub fn ldap_answer(data: &[u8]) {
    let _ = crate::ldap::client::paged_cookie(data);
    let text = String::from_utf8_lossy(data);
    if let Some(code) = crate::ldap::errors::ad_data_code(&text) {
        let _ = crate::ldap::errors::ad_bind_explanation(code);
    }
    if let Some(rc) = data.first() {
        let _ = crate::ldap::errors::rc_name(u32::from(*rc));
    }
}

/// EWS SOAP answers: the reply classification (fault, response code,
/// back-off) and the server version header.
pub fn ews_answer(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = crate::ews::fuzz_classify(&text);
}

/// Graph and Entra ID JSON answers: an error body at any status, a token
/// refusal, and a page of users turned into [`crate::User`]s.
pub fn graph_answer(data: &[u8]) {
    let status = data.first().map_or(400, |b| 400 + u16::from(*b % 200));
    let body = data.get(1..).unwrap_or_default();
    let failure = crate::graph::errors::GraphFailure::parse(status, body);
    let _ = crate::graph::errors::general(&failure, "fuzzing", "m365").to_string();
    let _ = failure.is_no_mailbox();
    let _ = crate::graph::errors::token_refused(status, body, "app").to_string();
    crate::graph::fuzz_user_page(body);
}

/// The folder backend's `users.csv`: read, checked, and written back.
pub fn users_file(data: &[u8]) {
    let path = std::path::Path::new("users.csv");
    if let Ok(users) = crate::folder::users_file::parse(path, data) {
        let _ = crate::folder::users_file::check_unique(path, &users);
        let _ = crate::folder::users_file::render(&users);
    }
}
