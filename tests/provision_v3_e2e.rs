//! The Matrix-style provisioning API end to end: QR and pairing-code logins walked step
//! by step against the fake WhatsApp server (the fake phone uses what the API returned),
//! whoami, logout, cancel, and the errors a dashboard gets for wrong tokens, wrong steps
//! and other users' logins.

mod common;

use std::time::Duration;

use common::bridge::Database;
use common::provisioning::ProvisionApi;
use common::whatsapp::{LINKING, setup};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PHONE: &str = "15550003001";
const OTHER_PHONE: &str = "15550003002";

fn step_path(step: &Value, kind: &str) -> String {
    format!(
        "/login/step/{}/{}/{kind}",
        step["login_id"].as_str().expect("login_id"),
        step["step_id"].as_str().expect("step_id")
    )
}

async fn whoami_logins(api: &ProvisionApi) -> Vec<Value> {
    let whoami = api.get("/whoami").await;
    assert_eq!(whoami.status, StatusCode::OK, "{}", whoami.body);
    whoami.body["logins"].as_array().expect("logins").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_and_pairing_code_logins_step_by_step() {
    let (server, env) = setup(Database::Sqlite).await;
    let alice = ProvisionApi::new(&env, "@alice:localhost");

    let flows = alice.get("/login/flows").await;
    let ids: Vec<&str> = flows.body["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .filter_map(|flow| flow["id"].as_str())
        .collect();
    assert_eq!(ids, ["qr", "phone"]);
    let whoami = alice.get("/whoami").await;
    assert_eq!(whoami.body["bridge_bot"], env.bot());
    assert_eq!(whoami.body["homeserver"], "localhost");
    assert_eq!(whoami.body["logins"], json!([]));

    // QR: start shows the first code; the phone scans it; the long-poll returns the end.
    let start = alice.post("/login/start/qr", None).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    assert_eq!(start.body["type"], "display_and_wait");
    assert_eq!(start.body["display_and_wait"]["type"], "qr");
    let code = start.body["display_and_wait"]["data"]
        .as_str()
        .expect("QR data");
    let wait = {
        let alice = alice.clone();
        let path = step_path(&start.body, "display_and_wait");
        tokio::spawn(async move { alice.post(&path, None).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    server
        .phone(PHONE)
        .expect("phone")
        .scan_qr(code)
        .expect("the phone accepts the QR code");
    let done = wait.await.expect("the long-poll");
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["type"], "complete");
    assert_eq!(done.body["complete"]["user_login_id"], PHONE);
    let after = alice
        .post(&step_path(&start.body, "display_and_wait"), None)
        .await;
    assert_eq!(
        after.status,
        StatusCode::NOT_FOUND,
        "a finished process is gone"
    );

    // Pairing code: the number first (a wrong one is refused), then the code.
    let start = alice.post("/login/start/phone", None).await;
    assert_eq!(start.body["type"], "user_input", "{}", start.body);
    assert_eq!(start.body["user_input"]["fields"][0]["id"], "phone_number");
    let wrong_step = format!(
        "/login/step/{}/not-this-step/user_input",
        start.body["login_id"].as_str().expect("id")
    );
    let refused = alice
        .post(
            &wrong_step,
            Some(json!({ "phone_number": format!("+{OTHER_PHONE}") })),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.body["errcode"], "M_BAD_STATE");
    let wrong_type = alice
        .post(&step_path(&start.body, "display_and_wait"), None)
        .await;
    assert_eq!(wrong_type.body["errcode"], "M_BAD_STATE");
    let bad_number = alice
        .post(
            &step_path(&start.body, "user_input"),
            Some(json!({ "phone_number": "07700 900123" })),
        )
        .await;
    assert_eq!(bad_number.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_number.body["errcode"], "M_INVALID_PARAM");
    assert!(
        bad_number.body["error"]
            .as_str()
            .is_some_and(|e| e.contains("country code"))
    );
    let not_json = alice
        .post(&step_path(&start.body, "user_input"), Some(json!("+1555")))
        .await;
    assert_eq!(not_json.body["errcode"], "M_NOT_JSON");
    let shown = alice
        .post(
            &step_path(&start.body, "user_input"),
            Some(json!({ "phone_number": format!("+{OTHER_PHONE}") })),
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert_eq!(shown.body["type"], "display_and_wait");
    assert_eq!(shown.body["display_and_wait"]["type"], "code");
    let pair_code = shown.body["display_and_wait"]["data"]
        .as_str()
        .expect("code")
        .to_owned();
    server
        .phone(OTHER_PHONE)
        .expect("phone")
        .enter_pair_code(&pair_code)
        .expect("the phone accepts the pairing code");
    let done = alice
        .post(&step_path(&shown.body, "display_and_wait"), None)
        .await;
    assert_eq!(done.body["type"], "complete", "{}", done.body);
    assert_eq!(done.body["complete"]["user_login_id"], OTHER_PHONE);

    // Both logins are listed and come up connected; logout takes one, then all.
    let connected = common::wait_for("both logins connected", LINKING, || async {
        let logins = whoami_logins(&alice).await;
        (logins.len() == 2
            && logins
                .iter()
                .all(|login| login["state"]["state_event"] == "CONNECTED"))
        .then_some(logins)
    })
    .await;
    assert_eq!(connected[0]["id"], PHONE);
    assert_eq!(
        alice.get("/logins").await.body["login_ids"],
        json!([PHONE, OTHER_PHONE])
    );
    let bob = ProvisionApi::new(&env, "@bob:localhost");
    let refused = bob.post(&format!("/logout/{PHONE}"), None).await;
    assert_eq!(
        refused.status,
        StatusCode::NOT_FOUND,
        "Bob cannot log out Alice"
    );
    assert_eq!(refused.body["errcode"], "M_NOT_FOUND");
    let logout = alice.post(&format!("/logout/{PHONE}"), None).await;
    assert_eq!(logout.status, StatusCode::OK);
    assert_eq!(logout.body, json!({}));
    assert_eq!(whoami_logins(&alice).await.len(), 1);
    alice.post("/logout/all", None).await;
    assert_eq!(whoami_logins(&alice).await, Vec::<Value>::new());
    common::wait_for(
        "both companions unlinked",
        Duration::from_secs(30),
        || async {
            let gone = server.phone(PHONE).ok()?.companions().is_empty()
                && server.phone(OTHER_PHONE).ok()?.companions().is_empty();
            gone.then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_users_and_cancelled_logins_are_checked() {
    let (_server, env) = setup(Database::Sqlite).await;
    let alice = ProvisionApi::new(&env, "@alice:localhost");

    let mut anonymous = alice.clone();
    anonymous.token = None;
    let refused = anonymous.get("/whoami").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.body["errcode"], "M_MISSING_TOKEN");
    let mut wrong = alice.clone();
    wrong.token = Some("provisioning-secret-for-testz".into());
    for path in ["/whoami", "/login/flows", "/logins"] {
        let refused = wrong.get(path).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(refused.body["errcode"], "M_UNKNOWN_TOKEN", "{path}");
        assert_eq!(
            refused.body.as_object().map(|body| body.len()),
            Some(2),
            "nothing more: {}",
            refused.body
        );
    }
    let guest = ProvisionApi::new(&env, "@guest:elsewhere.example");
    let refused = guest.get("/whoami").await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "relay users may not log in"
    );
    let nobody = ProvisionApi::new(&env, "not a user id");
    assert_eq!(
        nobody.get("/whoami").await.body["errcode"],
        "M_INVALID_PARAM"
    );
    let unknown_flow = alice.post("/login/start/sms", None).await;
    assert_eq!(unknown_flow.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown_flow.body["errcode"], "M_NOT_FOUND");

    // A process is its user's only; cancel ends it for good.
    let start = alice.post("/login/start/qr", None).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    let bob = ProvisionApi::new(&env, "@bob:localhost");
    let theirs = bob
        .post(&step_path(&start.body, "display_and_wait"), None)
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let login_id = start.body["login_id"].as_str().expect("login_id");
    assert_eq!(
        bob.post(&format!("/login/cancel/{login_id}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let cancelled = alice.post(&format!("/login/cancel/{login_id}"), None).await;
    assert_eq!(cancelled.status, StatusCode::OK);
    assert_eq!(cancelled.body, json!({}));
    let after = alice
        .post(&step_path(&start.body, "display_and_wait"), None)
        .await;
    assert_eq!(after.status, StatusCode::NOT_FOUND);
    let finished = alice.post(&step_path(&start.body, "complete"), None).await;
    assert_eq!(finished.status, StatusCode::GONE);
    let unknown = alice.post(&step_path(&start.body, "cookies"), None).await;
    assert_eq!(unknown.body["errcode"], "M_UNRECOGNIZED");
    let no_login = alice.post("/logout/15550000000", None).await;
    assert_eq!(no_login.status, StatusCode::NOT_FOUND);
}
