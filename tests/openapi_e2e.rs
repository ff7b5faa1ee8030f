//! The OpenAPI document in docs/ against the running bridge: every documented operation is
//! called (successes and the documented errors), each answer must be documented with a
//! body that matches its schema, and no operation of the document goes uncalled.

mod common;

use std::time::Duration;

use common::bridge::{
    DEVICE_API_PASSWORD, DEVICE_API_USER, Database, PROVISIONING_SECRET, TestEnv,
};
use common::openapi::Spec;
use common::whatsapp::setup;
use reqwest::Method;
use serde_json::{Value, json};

enum Auth {
    None,
    Basic,
    Bearer,
}

struct Caller<'a> {
    env: &'a TestEnv,
    client: reqwest::Client,
    spec: Spec,
}

impl Caller<'_> {
    /// Calls, checks the answer against the document and that its status is `status`;
    /// returns its body.
    async fn expect(
        &mut self,
        status: u16,
        method: Method,
        path: &str,
        auth: Auth,
        body: Option<Value>,
    ) -> Value {
        let label = format!("{method} {path}");
        let (got, body) = self.call(method, path, auth, body).await;
        assert_eq!(got, status, "{label}: {body}");
        body
    }

    /// Calls, checks the answer against the document, returns its status and body.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        auth: Auth,
        body: Option<Value>,
    ) -> (u16, Value) {
        let full = match auth {
            Auth::Bearer => {
                let separator = if path.contains('?') { '&' } else { '?' };
                format!("{path}{separator}user_id=%40alice%3Alocalhost")
            }
            _ => path.to_owned(),
        };
        let mut request = self
            .client
            .request(method.clone(), format!("{}{full}", self.env.bridge_url()))
            .timeout(Duration::from_secs(180));
        request = match auth {
            Auth::None => request,
            Auth::Basic => request.basic_auth(DEVICE_API_USER, Some(DEVICE_API_PASSWORD)),
            Auth::Bearer => request.bearer_auth(PROVISIONING_SECRET),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the bridge answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        // A stream is checked by its headers only.
        let body = if content_type.starts_with("text/event-stream") {
            Value::Null
        } else {
            let bytes = response.bytes().await.expect("a body");
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        self.spec
            .check(method.as_str(), path, status, &content_type, &body);
        (status, body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_answers_as_documented() {
    let (_server, env) = setup(Database::Sqlite).await;
    let mut api = Caller {
        env: &env,
        client: reqwest::Client::new(),
        spec: Spec::load(),
    };
    use Auth::{Basic, Bearer, None as Anonymous};
    use Method as M;

    // The device API.
    api.expect(401, M::GET, "/devices", Anonymous, None).await;
    api.expect(200, M::GET, "/devices", Basic, None).await;
    let doc = json!({ "device_id": "doc", "name": "Docs" });
    api.expect(201, M::POST, "/devices", Basic, Some(doc)).await;
    let again = json!({ "device_id": "doc" });
    api.expect(409, M::POST, "/devices", Basic, Some(again))
        .await;
    let bad_id = json!({ "device_id": "a/b" });
    api.expect(400, M::POST, "/devices", Basic, Some(bad_id))
        .await;
    api.expect(200, M::GET, "/devices/doc", Basic, None).await;
    api.expect(404, M::GET, "/devices/none", Basic, None).await;
    api.expect(200, M::GET, "/devices/doc/status", Basic, None)
        .await;
    api.expect(404, M::GET, "/devices/doc/login/qr.png", Basic, None)
        .await;
    api.expect(404, M::GET, "/devices/doc/login/events", Basic, None)
        .await;
    api.expect(409, M::POST, "/devices/doc/login/cancel", Basic, None)
        .await;
    api.expect(200, M::GET, "/devices/doc/login", Basic, None)
        .await;
    api.expect(200, M::GET, "/devices/doc/status", Basic, None)
        .await;
    api.expect(200, M::GET, "/devices/doc/login/qr.png", Basic, None)
        .await;
    api.expect(200, M::GET, "/devices/doc/login/events", Basic, None)
        .await;
    let code = "/devices/doc/login/code?phone=15550005001";
    api.expect(409, M::POST, code, Basic, None).await;
    api.expect(200, M::POST, "/devices/doc/login/cancel", Basic, None)
        .await;
    let bad_phone = "/devices/doc/login/code?phone=0812";
    api.expect(400, M::POST, bad_phone, Basic, None).await;
    common::wait_for(
        "the cancelled login to end",
        Duration::from_secs(20),
        || async {
            let (_, body) = api_status(&env).await;
            (body["results"]["state"] == "logged_out").then_some(())
        },
    )
    .await;
    api.expect(200, M::POST, code, Basic, None).await;
    api.expect(200, M::GET, "/devices", Basic, None).await;
    api.expect(409, M::POST, "/devices/doc/logout", Basic, None)
        .await;
    api.expect(409, M::POST, "/devices/doc/reconnect", Basic, None)
        .await;
    api.expect(200, M::DELETE, "/devices/doc", Basic, None)
        .await;
    api.expect(404, M::DELETE, "/devices/doc", Basic, None)
        .await;
    api.expect(401, M::GET, "/login", Anonymous, None).await;
    api.expect(200, M::GET, "/login", Basic, None).await;

    // The Matrix-style API.
    let v3 = |path: &str| format!("/_matrix/provision/v3{path}");
    api.expect(401, M::GET, &v3("/login/flows"), Anonymous, None)
        .await;
    api.expect(200, M::GET, &v3("/login/flows"), Bearer, None)
        .await;
    api.expect(404, M::POST, &v3("/login/start/sms"), Bearer, None)
        .await;
    let qr = api
        .expect(200, M::POST, &v3("/login/start/qr"), Bearer, None)
        .await;
    let login_id = qr["login_id"].as_str().expect("login_id").to_owned();
    let wrong = v3(&format!("/login/step/{login_id}/wrong/display_and_wait"));
    api.expect(400, M::POST, &wrong, Bearer, None).await;
    let cancel = v3(&format!("/login/cancel/{login_id}"));
    api.expect(200, M::POST, &cancel, Bearer, None).await;
    api.expect(404, M::POST, &cancel, Bearer, None).await;
    let phone = api
        .expect(200, M::POST, &v3("/login/start/phone"), Bearer, None)
        .await;
    let phone_id = phone["login_id"].as_str().expect("login_id");
    let step_id = phone["step_id"].as_str().expect("step_id");
    let step = v3(&format!("/login/step/{phone_id}/{step_id}/user_input"));
    let bad_number = json!({ "phone_number": "0812" });
    api.expect(400, M::POST, &step, Bearer, Some(bad_number))
        .await;
    let number = json!({ "phone_number": "+15550005002" });
    let code = api.expect(200, M::POST, &step, Bearer, Some(number)).await;
    assert_eq!(code["display_and_wait"]["type"], "code");
    let cancel = v3(&format!("/login/cancel/{phone_id}"));
    api.expect(200, M::POST, &cancel, Bearer, None).await;
    let finished = v3(&format!("/login/step/{login_id}/x/complete"));
    api.expect(410, M::POST, &finished, Bearer, None).await;
    api.expect(200, M::GET, &v3("/logins"), Bearer, None).await;
    api.expect(200, M::GET, &v3("/whoami"), Bearer, None).await;
    api.expect(401, M::GET, &v3("/whoami"), Anonymous, None)
        .await;
    api.expect(200, M::POST, &v3("/logout/all"), Bearer, None)
        .await;
    api.expect(404, M::POST, &v3("/logout/15550005009"), Bearer, None)
        .await;

    let missed: Vec<_> = api
        .spec
        .operations()
        .difference(&api.spec.covered)
        .cloned()
        .collect();
    assert!(missed.is_empty(), "documented but never called: {missed:?}");
}

async fn api_status(env: &TestEnv) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}/devices/doc/status", env.bridge_url()))
        .basic_auth(DEVICE_API_USER, Some(DEVICE_API_PASSWORD))
        .send()
        .await
        .expect("status");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
