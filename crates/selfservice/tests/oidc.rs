//! Entra sign-in (OpenID Connect, authorization code + PKCE) against the
//! Graph emulator's authorize, token and JWKS endpoints: a good sign-in
//! gives the UPN, name and groups; a wrong password gets no code; a code
//! works once; a wrong PKCE verifier, a different nonce and a token signed
//! by a key the tenant does not publish are refused.

use std::collections::HashMap;

use userphoto_emulators::graph::{
    GraphEmulator, Knobs, DEFAULT_CLIENT_SECRET, DEFAULT_USER_PASSWORD, UNREGISTERED_PEM,
};
use userphoto_selfservice::oidc::{finish, start, verify, OidcConfig, OidcError, Pending};

const GROUP: &str = "99999999-8888-7777-6666-555555555555";

async fn emulator() -> (GraphEmulator, OidcConfig, String) {
    let probe = GraphEmulator::start(Knobs::default())
        .await
        .expect("emulator");
    let upn = probe.users()[0].user_principal_name.clone();
    drop(probe);
    let mut knobs = Knobs::default();
    knobs.group_members.push((upn.clone(), GROUP.to_owned()));
    let emu = GraphEmulator::start(knobs).await.expect("emulator");
    let config = OidcConfig {
        login_url: emu.login_url(),
        tenant: emu.tenant_id(),
        client_id: emu.client_id(),
        client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
        redirect_uri: "http://127.0.0.1:9/auth/callback".to_owned(),
    };
    (emu, config, upn)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn query(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), decode(v)))
        .collect()
}

fn decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            if let Ok(b) = u8::from_str_radix(&v[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8(out).expect("utf-8")
}

/// Signs in at the emulator's form as `login`; the redirect's query, or
/// the page when there was none.
async fn sign_in(
    url: &str,
    login: &str,
    password: &str,
) -> Result<HashMap<String, String>, String> {
    let http = client();
    let page = http.get(url).send().await.expect("authorize page");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("page").contains("<form"));
    let mut form = query(url);
    form.insert("login".into(), login.into());
    form.insert("passwd".into(), password.into());
    let action = url.split_once('?').map(|(a, _)| a).unwrap_or(url);
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let res = http
        .post(action)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("authorize");
    if res.status() == 302 {
        let to = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("location")
            .to_owned();
        assert!(to.starts_with("http://127.0.0.1:9/auth/callback?"), "{to}");
        Ok(query(&to))
    } else {
        Err(res.text().await.expect("page"))
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn code_and_pkce_sign_in_gives_a_verified_identity_once() {
    let (_emu, config, upn) = emulator().await;
    let (url, pending) = start(&config);
    assert!(url.contains("code_challenge_method=S256"));
    let back = sign_in(&url, &upn, DEFAULT_USER_PASSWORD)
        .await
        .expect("redirected");
    assert_eq!(
        back.get("state"),
        Some(&pending.state),
        "the state comes back"
    );
    let code = back.get("code").expect("a code").clone();
    let http = client();
    let claims = finish(&config, &http, &pending, &code)
        .await
        .expect("signed in");
    assert_eq!(claims.preferred_username, upn);
    assert_eq!(claims.groups, vec![GROUP.to_owned()]);
    assert!(claims.name.is_some());
    // A code is good once.
    match finish(&config, &http, &pending, &code).await {
        Err(OidcError::Endpoint { detail, .. }) => assert!(detail.contains("54005"), "{detail}"),
        other => panic!("a redeemed code must be refused: {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_password_gets_no_code() {
    let (_emu, config, upn) = emulator().await;
    let (url, _) = start(&config);
    let page = sign_in(&url, &upn, "wrong").await.expect_err("no redirect");
    assert!(page.contains("AADSTS50126"), "{page}");
}

#[tokio::test]
async fn a_wrong_verifier_or_nonce_is_refused() {
    let (_emu, config, upn) = emulator().await;
    let http = client();
    let (url, pending) = start(&config);
    let code = sign_in(&url, &upn, DEFAULT_USER_PASSWORD)
        .await
        .expect("code")["code"]
        .clone();
    let wrong_verifier = Pending {
        verifier: "not-the-verifier-not-the-verifier-not-the-verifier".into(),
        ..pending.clone()
    };
    match finish(&config, &http, &wrong_verifier, &code).await {
        Err(OidcError::Endpoint { detail, .. }) => assert!(detail.contains("501481"), "{detail}"),
        other => panic!("PKCE must be checked: {other:?}"),
    }
    let (url, pending) = start(&config);
    let code = sign_in(&url, &upn, DEFAULT_USER_PASSWORD)
        .await
        .expect("code")["code"]
        .clone();
    let other_nonce = Pending {
        nonce: "someone-elses-nonce".into(),
        ..pending
    };
    match finish(&config, &http, &other_nonce, &code).await {
        Err(OidcError::Token(why)) => assert!(why.contains("nonce"), "{why}"),
        other => panic!("the nonce must be checked: {other:?}"),
    }
}

#[tokio::test]
async fn a_token_signed_by_an_unpublished_key_or_for_another_audience_is_refused() {
    let (_emu, config, upn) = emulator().await;
    let http = client();
    let jwks: serde_json::Value = http
        .get(format!(
            "{}/{}/discovery/v2.0/keys",
            config.login_url, config.tenant
        ))
        .send()
        .await
        .expect("keys")
        .json()
        .await
        .expect("json");
    let kid = jwks["keys"][0]["kid"].as_str().expect("kid").to_owned();
    let (_, pending) = start(&config);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = |aud: &str| {
        serde_json::json!({
            "aud": aud, "iss": config.issuer(), "iat": now, "nbf": now, "exp": now + 600,
            "oid": "x", "preferred_username": upn, "nonce": pending.nonce,
        })
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid);
    let pem = UNREGISTERED_PEM;
    let key_block = &pem[pem
        .find("-----BEGIN PRIVATE KEY-----")
        .or_else(|| pem.find("-----BEGIN RSA PRIVATE KEY-----"))
        .expect("a key block")..];
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_block.as_bytes()).expect("key");
    let forged = jsonwebtoken::encode(&header, &claims(&config.client_id), &key).expect("sign");
    match verify(&config, &http, &pending, &forged).await {
        Err(OidcError::Token(why)) => assert!(why.to_lowercase().contains("signature"), "{why}"),
        other => panic!("a forged signature must be refused: {other:?}"),
    }
    // A genuine token of this tenant, redeemed by hand, is refused by an
    // app expecting another audience.
    let (url, pending) = start(&config);
    let code = sign_in(&url, &upn, DEFAULT_USER_PASSWORD)
        .await
        .expect("code")["code"]
        .clone();
    let form = [
        ("client_id", config.client_id.as_str()),
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", config.redirect_uri.as_str()),
        ("code_verifier", pending.verifier.as_str()),
        ("client_secret", config.client_secret.as_str()),
    ];
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let answer: serde_json::Value = http
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            config.login_url, config.tenant
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let genuine = answer["id_token"].as_str().expect("an id token");
    verify(&config, &http, &pending, genuine)
        .await
        .expect("genuine and ours");
    let other_app = OidcConfig {
        client_id: "another-app".into(),
        ..config.clone()
    };
    match verify(&other_app, &http, &pending, genuine).await {
        Err(OidcError::Token(why)) => assert!(why.to_lowercase().contains("audience"), "{why}"),
        other => panic!("another audience must be refused: {other:?}"),
    }
}
