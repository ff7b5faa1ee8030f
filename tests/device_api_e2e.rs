//! The device API end to end: a dashboard (HTTP Basic) creates devices and logs them in
//! by QR code and by pairing code against the fake WhatsApp server, whose phone scans or
//! types exactly what the API returned; a follower of the event stream sees every QR
//! rotation and the outcome; credentials, other users' devices and bad input are refused
//! with clear errors.

mod common;

use std::time::Duration;

use common::bridge::{DEVICE_API_USER, Database, OTHER_DEVICE_API_USER, RELAY_DEVICE_API_USER};
use common::provisioning::DeviceApi;
use common::whatsapp::{LINKING, setup};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PHONE: &str = "15550002001";
const OTHER_PHONE: &str = "15550002002";

fn decode_qr(png: &[u8]) -> String {
    let image = image::load_from_memory(png).expect("a PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().expect("the QR code decodes").1
}

async fn create(api: &DeviceApi, device: &str) -> Value {
    let created = api
        .call(
            Method::POST,
            "/devices",
            Some(json!({ "device_id": device, "name": format!("{device} phone") })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["code"], "SUCCESS");
    created.body["results"].clone()
}

async fn wait_connected(api: &DeviceApi, device: &str) -> Value {
    common::wait_for("the device to be connected", LINKING, || async {
        let status = api.get(&format!("/devices/{device}/status")).await;
        (status.body["results"]["is_connected"] == true).then(|| status.body["results"].clone())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_login_through_the_device_api_with_every_rotation_followed() {
    let (server, env) = setup(Database::Sqlite).await;
    // Two codes: 60 s for the first, 20 s for the second.
    server.set_qr_ref_count(2);
    let api = DeviceApi::new(&env, DEVICE_API_USER);
    let device = create(&api, "front-desk").await;
    assert_eq!(device["state"], "logged_out");
    assert_eq!(device["is_logged_in"], false);

    let login = api.get("/devices/front-desk/login").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let first = &login.body["results"];
    let first_code = first["qr_code"]
        .as_str()
        .expect("the raw QR string")
        .to_owned();
    assert!(
        first["qr_duration"].as_i64().expect("qr_duration") > 30,
        "{first}"
    );
    assert!(
        first["expires_at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z')),
        "{first}"
    );
    assert_eq!(first["rotation"], 0);

    // The image is behind the same credentials and shows the same code.
    let qr_link = first["qr_link"].as_str().expect("qr_link");
    let path = qr_link
        .strip_prefix(&env.bridge_url())
        .expect("a link to this bridge");
    let image = api.get(path).await;
    assert_eq!(image.status, StatusCode::OK);
    assert_eq!(
        image
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/png")
    );
    assert_eq!(decode_qr(&image.bytes), first_code);
    let anonymous = reqwest::get(qr_link).await.expect("answer");
    assert_eq!(
        anonymous.status(),
        StatusCode::UNAUTHORIZED,
        "the QR image needs auth"
    );

    // Asking again while it runs returns the same login, not a second one.
    let again = api.get("/devices/front-desk/login").await;
    assert_eq!(again.body["results"]["qr_code"], first_code.as_str());

    let mut follower = api.follow("front-desk").await;
    let shown = follower.next("qr", Duration::from_secs(10)).await;
    assert_eq!(
        shown["qr_code"],
        first_code.as_str(),
        "the stream starts with what shows now"
    );
    // WhatsApp's first code lives 60 s; a loaded machine may take a while longer.
    let rotated = follower.next("qr", Duration::from_secs(150)).await;
    assert_eq!(rotated["rotation"], 1);
    let second_code = rotated["qr_code"]
        .as_str()
        .expect("the next code")
        .to_owned();
    assert_ne!(second_code, first_code, "a rotation shows a new code");
    let during = api.get("/devices/front-desk/status").await;
    assert_eq!(during.body["results"]["state"], "logging_in");
    assert_eq!(
        during.body["results"]["login"]["qr_code"],
        second_code.as_str()
    );

    server
        .phone(PHONE)
        .expect("the fake phone")
        .scan_qr(&second_code)
        .expect("the phone accepts the code the API showed");
    let success = follower.next("success", LINKING).await;
    assert_eq!(success["phone"], PHONE);
    assert!(
        follower.ends_within(Duration::from_secs(10)).await,
        "the stream ends with the flow"
    );

    let status = wait_connected(&api, "front-desk").await;
    assert_eq!(status["state"], "logged_in");
    assert_eq!(status["phone"], PHONE);
    assert_eq!(status["connection"], "connected");
    let late = api
        .follow("front-desk")
        .await
        .next("success", Duration::from_secs(10))
        .await;
    assert_eq!(late["phone"], PHONE, "a late follower learns the outcome");
    let relogin = api.get("/devices/front-desk/login").await;
    assert_eq!(relogin.status, StatusCode::CONFLICT);
    assert_eq!(relogin.body["code"], "ALREADY_LOGGED_IN");

    // Logout unlinks the companion on WhatsApp and empties the device; delete removes it.
    let logout = api.post("/devices/front-desk/logout").await;
    assert_eq!(logout.status, StatusCode::OK, "{}", logout.body);
    assert_eq!(logout.body["results"]["unlinked"], true);
    common::wait_for(
        "the phone to lose its companion",
        Duration::from_secs(30),
        || async {
            server
                .phone(PHONE)
                .ok()?
                .companions()
                .is_empty()
                .then_some(())
        },
    )
    .await;
    let after = api.get("/devices/front-desk").await;
    assert_eq!(after.body["results"]["state"], "logged_out");
    assert_eq!(after.body["results"]["phone"], Value::Null);
    let again = api.post("/devices/front-desk/logout").await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["code"], "NOT_LOGGED_IN");
    let deleted = api.call(Method::DELETE, "/devices/front-desk", None).await;
    assert_eq!(deleted.status, StatusCode::OK);
    let gone = api.get("/devices/front-desk").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body["code"], "DEVICE_NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_log_in_at_once_by_qr_and_by_pairing_code() {
    let url = common::fresh_postgres_database().await;
    let (server, env) = setup(Database::Postgres(url)).await;
    let api = DeviceApi::new(&env, DEVICE_API_USER);
    create(&api, "one").await;
    create(&api, "two").await;

    let bad = api.post("/devices/two/login/code?phone=0812-ABC").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["code"], "INVALID_PHONE");
    assert!(
        bad.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("628912344551")),
        "the error shows the expected format: {}",
        bad.body
    );
    let missing = api.post("/devices/two/login/code").await;
    assert_eq!(missing.body["code"], "INVALID_PHONE");

    let code_path = format!("/devices/two/login/code?phone={OTHER_PHONE}");
    let (qr, code) = tokio::join!(api.get("/devices/one/login"), api.post(&code_path));
    assert_eq!(qr.status, StatusCode::OK, "{}", qr.body);
    assert_eq!(code.status, StatusCode::OK, "{}", code.body);
    let pair_code = code.body["results"]["pair_code"]
        .as_str()
        .expect("pair_code");
    assert!(
        pair_code.len() == 9 && pair_code.as_bytes()[4] == b'-',
        "ABCD-1234 form: {pair_code}"
    );
    let mut one = api.follow("one").await;
    let mut two = api.follow("two").await;
    server
        .phone(OTHER_PHONE)
        .expect("phone")
        .enter_pair_code(pair_code)
        .expect("the phone accepts the pairing code");
    server
        .phone(PHONE)
        .expect("phone")
        .scan_qr(qr.body["results"]["qr_code"].as_str().expect("qr_code"))
        .expect("the phone accepts the QR code");
    assert_eq!(two.next("success", LINKING).await["phone"], OTHER_PHONE);
    assert_eq!(one.next("success", LINKING).await["phone"], PHONE);
    wait_connected(&api, "one").await;
    wait_connected(&api, "two").await;
    let listed = api.get("/devices").await;
    let phones: Vec<&str> = listed.body["results"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|device| device["phone"].as_str())
        .collect();
    assert_eq!(
        phones,
        [PHONE, OTHER_PHONE],
        "each device holds its own account"
    );

    // Reconnect of a connected device says so; delete of a logged-in device logs it out.
    let reconnect = api.post("/devices/two/reconnect").await;
    assert_eq!(reconnect.body["results"]["status"], "already_connected");
    let deleted = api.call(Method::DELETE, "/devices/two", None).await;
    assert_eq!(deleted.status, StatusCode::OK);
    common::wait_for(
        "the deleted device's companion to go",
        Duration::from_secs(30),
        || async {
            server
                .phone(OTHER_PHONE)
                .ok()?
                .companions()
                .is_empty()
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        api.get("/devices").await.body["results"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_other_users_and_bad_requests_get_clear_errors() {
    let (_server, env) = setup(Database::Sqlite).await;
    let alice = DeviceApi::new(&env, DEVICE_API_USER);
    create(&alice, "mine").await;

    for wrong in [
        DeviceApi::with_password(&env, DEVICE_API_USER, "not-the-password-at-all"),
        DeviceApi::with_password(&env, "nobody", "device-api-password-for-tests"),
    ] {
        for path in [
            "/devices",
            "/devices/mine",
            "/devices/nothing-here",
            "/login",
        ] {
            let refused = wrong.get(path).await;
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{path}");
            assert!(refused.headers.contains_key("www-authenticate"), "{path}");
            assert_eq!(refused.body["code"], "UNAUTHORIZED");
            assert_eq!(
                refused.body["results"],
                Value::Null,
                "nothing leaks: {}",
                refused.body
            );
        }
    }
    let anonymous = reqwest::get(format!("{}/devices", env.bridge_url()))
        .await
        .expect("answer");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Bob sees none of Alice's devices and cannot touch them; an ID can exist per user.
    let bob = DeviceApi::new(&env, OTHER_DEVICE_API_USER);
    assert_eq!(bob.get("/devices").await.body["results"], json!([]));
    for (method, path) in [
        (Method::GET, "/devices/mine"),
        (Method::GET, "/devices/mine/login"),
        (Method::GET, "/devices/mine/login/qr.png"),
        (Method::GET, "/devices/mine/login/events"),
        (Method::POST, "/devices/mine/logout"),
        (Method::POST, "/devices/mine/reconnect"),
        (Method::DELETE, "/devices/mine"),
    ] {
        let refused = bob.call(method.clone(), path, None).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(refused.body["code"], "DEVICE_NOT_FOUND", "{method} {path}");
    }
    create(&bob, "mine").await;
    assert_eq!(
        alice.get("/devices").await.body["results"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        alice.get("/devices/mine").await.status,
        StatusCode::OK,
        "still Alice's own"
    );

    // A user the permissions do not let log in is refused outright.
    let guest = DeviceApi::new(&env, RELAY_DEVICE_API_USER);
    let refused = guest.get("/devices").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body["code"], "FORBIDDEN");

    let unknown = alice.get("/devices/not-a-device/status").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["code"], "DEVICE_NOT_FOUND");
    let duplicate = alice
        .call(
            Method::POST,
            "/devices",
            Some(json!({ "device_id": "mine" })),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(duplicate.body["code"], "DEVICE_EXISTS");
    let invalid = alice
        .call(
            Method::POST,
            "/devices",
            Some(json!({ "device_id": "../etc" })),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert_eq!(invalid.body["code"], "INVALID_DEVICE_ID");
    let garbage = alice
        .call(
            Method::POST,
            "/devices",
            Some(json!(["not", "an", "object"])),
        )
        .await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert_eq!(garbage.body["code"], "INVALID_BODY");
    let generated = alice.post("/devices").await;
    assert_eq!(
        generated.status,
        StatusCode::CREATED,
        "an empty body makes an ID up"
    );
    assert!(
        generated.body["results"]["device_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    let no_qr = alice.get("/devices/mine/login/qr.png").await;
    assert_eq!(no_qr.status, StatusCode::NOT_FOUND);
    assert_eq!(no_qr.body["code"], "NO_QR_CODE");
    let no_events = alice.get("/devices/mine/login/events").await;
    assert_eq!(no_events.status, StatusCode::NOT_FOUND);
    assert_eq!(no_events.body["code"], "NO_LOGIN");
    let no_login = alice.post("/devices/mine/reconnect").await;
    assert_eq!(no_login.status, StatusCode::CONFLICT);
    assert_eq!(no_login.body["code"], "NOT_LOGGED_IN");

    // A cancelled login ends for its followers with `cancelled`.
    let started = alice.get("/devices/mine/login").await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let mut follower = alice.follow("mine").await;
    let cancel = alice.post("/devices/mine/login/cancel").await;
    assert_eq!(cancel.status, StatusCode::OK, "{}", cancel.body);
    follower.next("cancelled", Duration::from_secs(20)).await;
    let after = alice.get("/devices/mine").await;
    assert_eq!(after.body["results"]["state"], "logged_out");
    assert_eq!(after.body["results"]["login"]["event"], "cancelled");
}
