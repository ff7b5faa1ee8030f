//! The login QR code as a person sees it in their Matrix client, against a real Synapse:
//! an image they can scan, replaced in place on rotation, gone when the login ends.

mod common;

use common::bridge::{Options, TestEnv};
use matrix_whatsapp::bridge::login::qr_message::QrMessage;
use matrix_whatsapp::matrix::retry::RetryPolicy;
use ruma::{OwnedTransactionId, RoomId, UserId};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_code_is_shown_replaced_and_removed() {
    let env = TestEnv::start(Options::default()).await;
    let (alice, room_id) = env.user_with_management_room("alice").await;

    let client = env.appservice_client(RetryPolicy::default()).await;
    let bot = UserId::parse(env.bot()).expect("bot");
    let room = RoomId::parse(&room_id).expect("room");
    let qr = QrMessage {
        client: &client,
        sender: &bot,
        room: &room,
    };

    let first_code = "2@first-ref,bm9pc2U=,aWRlbnRpdHk=,YWR2";
    let first = qr
        .show(first_code, None, OwnedTransactionId::from("qr-0"))
        .await
        .expect("show");
    let second_code = "2@second-ref,bm9pc2U=,aWRlbnRpdHk=,YWR2";
    qr.show(second_code, Some(&first), OwnedTransactionId::from("qr-1"))
        .await
        .expect("rotate");

    let timeline = alice.timeline(&room_id).await;
    let image = timeline
        .iter()
        .find(|event| event["event_id"] == first.as_str())
        .expect("the QR message");
    assert_eq!(image["sender"], env.bot());
    assert_eq!(image["content"]["msgtype"], "m.image");
    assert_eq!(
        image["content"]["body"], first_code,
        "the raw code is the body"
    );
    assert_eq!(image["content"]["info"]["w"], 512);
    let edit = timeline
        .iter()
        .find(|event| event["content"]["m.relates_to"]["rel_type"] == "m.replace")
        .expect("the rotation is an edit");
    assert_eq!(edit["content"]["m.relates_to"]["event_id"], first.as_str());
    assert_eq!(edit["content"]["m.new_content"]["body"], second_code);
    assert_eq!(edit["content"]["m.new_content"]["msgtype"], "m.image");

    // The image the person sees scans to the code.
    let mxc = edit["content"]["m.new_content"]["url"]
        .as_str()
        .expect("mxc");
    let png = alice.download(mxc).await;
    let image = image::load_from_memory(&png).expect("a PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    assert_eq!(grids[0].decode().expect("scans").1, second_code);

    qr.remove(&first, OwnedTransactionId::from("qr-end"))
        .await
        .expect("remove");
    let after = alice.timeline(&room_id).await;
    let redacted = after
        .iter()
        .find(|event| event["event_id"] == first.as_str())
        .expect("the QR message");
    assert!(
        redacted["content"].get("body").is_none(),
        "the code is still readable: {redacted}"
    );
    assert!(!redacted["unsigned"]["redacted_because"].is_null());
}
