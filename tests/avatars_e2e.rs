//! Ghost avatars: a contact's WhatsApp profile picture becomes their ghost's avatar (the
//! same bytes, read back from the homeserver), and a new picture replaces it.

mod common;

use std::time::Duration;

use common::bridge::Database;
use common::whatsapp::{LINKING, Linked, linked};

const PHONE: &str = "15550001234";
const ALICE: &str = "15550002001";
const GHOST: &str = "@whatsapp_15550002001:localhost";

/// The ghost's avatar bytes, once its avatar is not `previous`.
async fn avatar_after(
    person: &common::user::MatrixUser,
    previous: Option<&str>,
) -> (String, Vec<u8>) {
    let mxc = common::wait_for("the ghost's avatar", Duration::from_secs(30), || async {
        let profile = person.profile(GHOST).await;
        let mxc = profile["avatar_url"].as_str()?.to_owned();
        (!mxc.is_empty() && Some(mxc.as_str()) != previous).then_some(mxc)
    })
    .await;
    let bytes = person.download(&mxc).await;
    (mxc, bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_pictures_become_and_stay_ghost_avatars() {
    let Linked {
        server,
        env: _env,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let alice = server.contact(ALICE).expect("contact");
    let first_picture = b"\xFF\xD8\xFF\xE0 first picture of alice".to_vec();
    alice
        .set_picture(first_picture.clone(), &[])
        .expect("picture");
    alice.send_text(PHONE, "hello").expect("send");
    common::wait_for("the portal invite", LINKING, || async {
        let (room, _) = person.invites().await.into_iter().next()?;
        person.join(&room).await;
        Some(room)
    })
    .await;
    let (first_mxc, bytes) = avatar_after(&person, None).await;
    assert_eq!(bytes, first_picture, "the avatar is the picture");

    // A new picture, announced to the user's devices: the avatar follows.
    let second_picture = b"\xFF\xD8\xFF\xE0 second picture of alice".to_vec();
    alice
        .set_picture(second_picture.clone(), &[PHONE])
        .expect("picture");
    let (_, bytes) = avatar_after(&person, Some(&first_mxc)).await;
    assert_eq!(bytes, second_picture, "the avatar follows the new picture");
}
