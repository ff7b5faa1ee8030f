//! Files end to end: photos, voice notes, documents and stickers a fake WhatsApp contact
//! sends arrive in the portal as Matrix media whose bytes are the contact's file; files
//! the person sends in the portal reach the contact's phone, and decrypt there to the
//! bytes the person uploaded. A file WhatsApp no longer has is said, not dropped.

mod common;

use common::bridge::Database;
use common::user::MatrixUser;
use common::whatsapp::{LINKING, Linked, linked, media_url, server_event, test_file};
use fakewa::proto as wa;
use fakewa::{Chat, FakeServer, MediaKind, SendOptions, ServerEvent};
use serde_json::{Value, json};
use whatsapp_rust::waproto::buffa;

const PHONE: &str = "15550001234";
const ALICE: &str = "15550002001";
const GHOST: &str = "@whatsapp_15550002001:localhost";

/// Joins the one portal the first message creates.
async fn portal(user: &MatrixUser) -> String {
    common::wait_for("the portal invite", LINKING, || async {
        let invite = user.invites().await.into_iter().next()?;
        user.join(&invite.0).await;
        Some(invite.0)
    })
    .await
}

/// The portal's events from Alice's ghost of the given type, oldest first.
async fn from_alice(user: &MatrixUser, room: &str, event_type: &str) -> Vec<Value> {
    user.timeline(room)
        .await
        .into_iter()
        .filter(|event| event["type"] == event_type && event["sender"] == GHOST)
        .collect()
}

/// The event from Alice's ghost that `pick` accepts, once it is there.
async fn alice_event(
    user: &MatrixUser,
    room: &str,
    event_type: &str,
    what: &str,
    pick: impl Fn(&Value) -> bool,
) -> Value {
    common::wait_for(what, LINKING, || async {
        from_alice(user, room, event_type)
            .await
            .into_iter()
            .find(|event| pick(event))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_voice_notes_documents_and_stickers_arrive_as_matrix_media() {
    let Linked {
        server,
        env: _env,
        seen: _seen,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let alice = server.contact(ALICE).expect("contact");
    let chat = Chat::Direct(PHONE.into());
    let send = |message: wa::Message| {
        alice
            .send(&chat, &message, &SendOptions::default())
            .expect("send")
    };

    let photo = test_file(7, 30_000);
    let stored = alice.upload(&photo, MediaKind::Image).expect("upload");
    let photo_id = send(wa::Message {
        image_message: buffa::MessageField::some(wa::message::ImageMessage {
            url: media_url(&server, &stored),
            direct_path: Some(stored.direct_path.clone()),
            media_key: Some(stored.media_key.to_vec()),
            file_sha256: Some(stored.file_sha256.to_vec()),
            file_enc_sha256: Some(stored.file_enc_sha256.to_vec()),
            file_length: Some(stored.file_length),
            mimetype: Some("image/jpeg".into()),
            caption: Some("the *view* from here".into()),
            width: Some(800),
            height: Some(600),
            ..Default::default()
        }),
        ..Default::default()
    });
    let room = portal(&person).await;
    let image = alice_event(&person, &room, "m.room.message", "the photo", |event| {
        event["content"]["msgtype"] == "m.image"
    })
    .await;
    let content = &image["content"];
    assert_eq!(content["body"], "the *view* from here");
    assert_eq!(
        content["formatted_body"],
        "the <strong>view</strong> from here"
    );
    assert_eq!(content["filename"], "image.jpg");
    assert_eq!(content["info"]["mimetype"], "image/jpeg");
    assert_eq!(content["info"]["w"], 800);
    assert_eq!(content["info"]["size"], photo.len());
    let url = content["url"].as_str().expect("the photo has an mxc URL");
    assert_eq!(person.download(url).await, photo, "the very same bytes");

    // Alice changes the caption on her phone: the photo's event is replaced by the same
    // photo with the new caption.
    send(wa::Message {
        protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage {
            key: buffa::MessageField::some(wa::MessageKey {
                remote_jid: Some(format!("{PHONE}@s.whatsapp.net")),
                from_me: Some(true),
                id: Some(photo_id),
                participant: None,
            }),
            r#type: Some(wa::message::protocol_message::Type::MESSAGE_EDIT),
            edited_message: buffa::MessageField::some(wa::Message {
                image_message: buffa::MessageField::some(wa::message::ImageMessage {
                    caption: Some("the view, at dusk".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let photo_event = image["event_id"].as_str().expect("event id").to_owned();
    let edit = alice_event(
        &person,
        &room,
        "m.room.message",
        "the caption edit",
        |event| {
            event["content"]["m.relates_to"]["rel_type"] == "m.replace"
                && event["content"]["m.relates_to"]["event_id"] == photo_event.as_str()
        },
    )
    .await;
    let new = &edit["content"]["m.new_content"];
    assert_eq!(new["body"], "the view, at dusk");
    assert_eq!(new["msgtype"], "m.image");
    assert_eq!(new["url"], url, "the same file");
    assert_eq!(new["filename"], "image.jpg");

    let voice = test_file(11, 9_000);
    let stored = alice.upload(&voice, MediaKind::Audio).expect("upload");
    send(wa::Message {
        audio_message: buffa::MessageField::some(wa::message::AudioMessage {
            url: media_url(&server, &stored),
            direct_path: Some(stored.direct_path.clone()),
            media_key: Some(stored.media_key.to_vec()),
            file_sha256: Some(stored.file_sha256.to_vec()),
            file_enc_sha256: Some(stored.file_enc_sha256.to_vec()),
            file_length: Some(stored.file_length),
            mimetype: Some("audio/ogg; codecs=opus".into()),
            ptt: Some(true),
            seconds: Some(4),
            waveform: Some((0..64).collect()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let note = alice_event(
        &person,
        &room,
        "m.room.message",
        "the voice note",
        |event| event["content"]["msgtype"] == "m.audio",
    )
    .await;
    let content = &note["content"];
    assert!(
        content.get("org.matrix.msc3245.voice").is_some(),
        "shown as a voice message: {content}"
    );
    assert_eq!(content["info"]["duration"], 4000);
    assert_eq!(
        content["org.matrix.msc1767.audio"]["waveform"]
            .as_array()
            .map(Vec::len),
        Some(64)
    );
    let url = content["url"].as_str().expect("an mxc URL");
    assert_eq!(person.download(url).await, voice);

    let report = test_file(13, 50_000);
    let stored = alice.upload(&report, MediaKind::Document).expect("upload");
    send(wa::Message {
        document_message: buffa::MessageField::some(wa::message::DocumentMessage {
            url: media_url(&server, &stored),
            direct_path: Some(stored.direct_path.clone()),
            media_key: Some(stored.media_key.to_vec()),
            file_sha256: Some(stored.file_sha256.to_vec()),
            file_enc_sha256: Some(stored.file_enc_sha256.to_vec()),
            file_length: Some(stored.file_length),
            mimetype: Some("application/pdf".into()),
            file_name: Some("report.pdf".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let document = alice_event(&person, &room, "m.room.message", "the document", |event| {
        event["content"]["msgtype"] == "m.file"
    })
    .await;
    assert_eq!(document["content"]["body"], "report.pdf");
    let url = document["content"]["url"].as_str().expect("an mxc URL");
    assert_eq!(person.download(url).await, report);

    let sticker_bytes = test_file(17, 4_000);
    let stored = alice
        .upload(&sticker_bytes, MediaKind::Sticker)
        .expect("upload");
    send(wa::Message {
        sticker_message: buffa::MessageField::some(wa::message::StickerMessage {
            url: media_url(&server, &stored),
            direct_path: Some(stored.direct_path.clone()),
            media_key: Some(stored.media_key.to_vec()),
            file_sha256: Some(stored.file_sha256.to_vec()),
            file_enc_sha256: Some(stored.file_enc_sha256.to_vec()),
            file_length: Some(stored.file_length),
            mimetype: Some("image/webp".into()),
            width: Some(512),
            height: Some(512),
            ..Default::default()
        }),
        ..Default::default()
    });
    let sticker = alice_event(&person, &room, "m.sticker", "the sticker", |_| true).await;
    assert_eq!(sticker["content"]["info"]["mimetype"], "image/webp");
    let url = sticker["content"]["url"].as_str().expect("an mxc URL");
    assert_eq!(person.download(url).await, sticker_bytes);

    // A photo whose file is gone from WhatsApp's servers: said, with its caption.
    let gone = alice
        .upload(&test_file(19, 1_000), MediaKind::Image)
        .expect("upload");
    assert!(server.expire_media(&gone.direct_path));
    send(wa::Message {
        image_message: buffa::MessageField::some(wa::message::ImageMessage {
            url: media_url(&server, &gone),
            direct_path: Some(gone.direct_path.clone()),
            media_key: Some(gone.media_key.to_vec()),
            file_sha256: Some(gone.file_sha256.to_vec()),
            file_enc_sha256: Some(gone.file_enc_sha256.to_vec()),
            file_length: Some(gone.file_length),
            mimetype: Some("image/jpeg".into()),
            caption: Some("lost photo".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let notice = alice_event(&person, &room, "m.room.message", "the notice", |event| {
        event["content"]["msgtype"] == "m.notice"
    })
    .await;
    let body = notice["content"]["body"].as_str().unwrap_or_default();
    assert!(
        body.contains("a photo") && body.contains("lost photo"),
        "{body}"
    );
    // Each file once (and the caption edit, which is no file of its own).
    let media: Vec<_> = from_alice(&person, &room, "m.room.message")
        .await
        .into_iter()
        .filter(|event| event["content"]["m.relates_to"]["rel_type"] != "m.replace")
        .collect();
    assert_eq!(
        media.len(),
        4,
        "photo, voice note, document, notice: {media:?}"
    );
}

/// The next message Alice's phone decrypts.
async fn at_alice(seen: &mut tokio::sync::broadcast::Receiver<ServerEvent>) -> wa::Message {
    *server_event(seen, "a message at alice", |event| match event {
        ServerEvent::MessageDecrypted(received) if received.recipient.user == ALICE => {
            Some(received.message.clone())
        }
        _ => None,
    })
    .await
}

/// Decrypts the file a message points at, as Alice's phone would.
fn decrypt(server: &FakeServer, direct_path: &str, key: &[u8], kind: MediaKind) -> Vec<u8> {
    let blob = server
        .media_blob(direct_path)
        .expect("the file is on the media server");
    fakewa::decrypt_media(&blob, kind, key).expect("the file decrypts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_voice_messages_and_files_from_matrix_reach_the_phone() {
    let Linked {
        server,
        env: _env,
        mut seen,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let alice = server.contact(ALICE).expect("contact");
    alice
        .send_text(PHONE, "send me the pictures")
        .expect("send");
    let room = portal(&person).await;
    person
        .wait_for_message(&room, GHOST, "send me the pictures")
        .await;

    let picture = test_file(23, 20_000);
    let url = person.upload(picture.clone(), "image/png").await;
    person
        .send_event(
            &room,
            "m.room.message",
            json!({
                "msgtype": "m.image",
                "body": "our garden",
                "filename": "garden.png",
                "url": url,
                "info": { "mimetype": "image/png", "w": 640, "h": 480, "size": picture.len() },
            }),
        )
        .await;
    let message = at_alice(&mut seen).await;
    let image = message.image_message.as_option().expect("an image");
    assert_eq!(image.caption.as_deref(), Some("our garden"));
    assert_eq!(image.mimetype.as_deref(), Some("image/png"));
    assert_eq!(image.width, Some(640));
    assert_eq!(
        decrypt(
            &server,
            image.direct_path.as_deref().unwrap_or_default(),
            image.media_key.as_deref().unwrap_or_default(),
            MediaKind::Image,
        ),
        picture
    );

    let recording = test_file(29, 6_000);
    let url = person.upload(recording.clone(), "audio/ogg").await;
    person
        .send_event(
            &room,
            "m.room.message",
            json!({
                "msgtype": "m.audio",
                "body": "Voice message",
                "url": url,
                "info": { "mimetype": "audio/ogg", "duration": 2500, "size": recording.len() },
                "org.matrix.msc1767.audio": { "duration": 2500, "waveform": [0, 512, 1024] },
                "org.matrix.msc3245.voice": {},
            }),
        )
        .await;
    let message = at_alice(&mut seen).await;
    let audio = message.audio_message.as_option().expect("audio");
    assert_eq!(audio.ptt, Some(true), "a voice note on the phone");
    assert_eq!(audio.seconds, Some(2));
    assert_eq!(audio.waveform.as_ref().map(Vec::len), Some(64));
    assert_eq!(
        decrypt(
            &server,
            audio.direct_path.as_deref().unwrap_or_default(),
            audio.media_key.as_deref().unwrap_or_default(),
            MediaKind::Audio,
        ),
        recording
    );

    let minutes = test_file(31, 12_000);
    let url = person.upload(minutes.clone(), "text/plain").await;
    person
        .send_event(
            &room,
            "m.room.message",
            json!({
                "msgtype": "m.file",
                "body": "minutes.txt",
                "url": url,
                "info": { "mimetype": "text/plain", "size": minutes.len() },
            }),
        )
        .await;
    let message = at_alice(&mut seen).await;
    let document = message.document_message.as_option().expect("a document");
    assert_eq!(document.file_name.as_deref(), Some("minutes.txt"));
    assert_eq!(document.caption, None);
    assert_eq!(
        decrypt(
            &server,
            document.direct_path.as_deref().unwrap_or_default(),
            document.media_key.as_deref().unwrap_or_default(),
            MediaKind::Document,
        ),
        minutes
    );

    // A file the homeserver does not have: the room is told, nothing is sent.
    person
        .send_event(
            &room,
            "m.room.message",
            json!({
                "msgtype": "m.file",
                "body": "missing.bin",
                "url": "mxc://localhost/doesnotexist",
            }),
        )
        .await;
    let refusal = common::wait_for("the refusal notice", LINKING, || async {
        person.timeline(&room).await.into_iter().find(|event| {
            event["content"]["msgtype"] == "m.notice"
                && event["content"]["body"]
                    .as_str()
                    .is_some_and(|body| body.starts_with("Not sent"))
        })
    })
    .await;
    let body = refusal["content"]["body"].as_str().unwrap_or_default();
    assert!(body.contains("homeserver"), "{body}");
}

/// A GIF (a video WhatsApp loops) with its preview and a caption that mentions someone:
/// a Matrix video flagged to play as a GIF, the preview as its thumbnail, the mention as
/// a pill. A captioned photo from Matrix whose caption has a pill reaches the phone
/// with the mention in the photo's context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gifs_previews_and_mentions_in_captions_both_ways() {
    const BOB: &str = "15550002002";
    let Linked {
        server,
        env: _env,
        mut seen,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let alice = server.contact(ALICE).expect("contact");
    server.contact(BOB).expect("contact");
    let clip = test_file(31, 12_000);
    let preview = test_file(37, 700);
    let stored = alice.upload(&clip, MediaKind::Video).expect("upload");
    alice
        .send(
            &Chat::Direct(PHONE.into()),
            &wa::Message {
                video_message: buffa::MessageField::some(wa::message::VideoMessage {
                    url: media_url(&server, &stored),
                    direct_path: Some(stored.direct_path.clone()),
                    media_key: Some(stored.media_key.to_vec()),
                    file_sha256: Some(stored.file_sha256.to_vec()),
                    file_enc_sha256: Some(stored.file_enc_sha256.to_vec()),
                    file_length: Some(stored.file_length),
                    mimetype: Some("video/mp4".into()),
                    gif_playback: Some(true),
                    jpeg_thumbnail: Some(preview.clone()),
                    caption: Some(format!("for @{BOB}")),
                    context_info: buffa::MessageField::some(wa::ContextInfo {
                        mentioned_jid: vec![format!("{BOB}@s.whatsapp.net")],
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &SendOptions::default(),
        )
        .expect("send");
    let room = portal(&person).await;
    let gif = alice_event(&person, &room, "m.room.message", "the GIF", |event| {
        event["content"]["msgtype"] == "m.video"
    })
    .await;
    let content = &gif["content"];
    for flag in [
        "fi.mau.gif",
        "fi.mau.loop",
        "fi.mau.autoplay",
        "fi.mau.no_audio",
    ] {
        assert_eq!(content["info"][flag], true, "{flag}");
    }
    let clip_url = content["url"].as_str().expect("the clip has an mxc URL");
    assert_eq!(person.download(clip_url).await, clip);
    let thumbnail = content["info"]["thumbnail_url"]
        .as_str()
        .expect("the preview is the thumbnail");
    assert_eq!(person.download(thumbnail).await, preview);
    assert_eq!(content["info"]["thumbnail_info"]["mimetype"], "image/jpeg");
    let bob_ghost = format!("@whatsapp_{BOB}:localhost");
    assert_eq!(content["body"], format!("for +{BOB}"));
    assert_eq!(
        content["formatted_body"],
        format!(r#"for <a href="https://matrix.to/#/{bob_ghost}">+{BOB}</a>"#)
    );
    assert_eq!(content["m.mentions"]["user_ids"], json!([bob_ghost]));

    // From Matrix: a photo whose caption has a pill to Alice's ghost.
    let picture = test_file(41, 9_000);
    let url = person.upload(picture.clone(), "image/png").await;
    person
        .send_event(
            &room,
            "m.room.message",
            json!({
                "msgtype": "m.image",
                "body": "Alice: yours",
                "format": "org.matrix.custom.html",
                "formatted_body": format!(r#"<a href="https://matrix.to/#/{GHOST}">Alice</a>: yours"#),
                "filename": "yours.png",
                "url": url,
                "info": { "mimetype": "image/png", "size": picture.len() },
                "m.mentions": { "user_ids": [GHOST] },
            }),
        )
        .await;
    let message = at_alice(&mut seen).await;
    let image = message.image_message.as_option().expect("an image");
    assert_eq!(
        image.caption.as_deref(),
        Some(format!("@{ALICE}: yours").as_str())
    );
    assert_eq!(
        image
            .context_info
            .as_option()
            .map(|context| context.mentioned_jid.clone()),
        Some(vec![format!("{ALICE}@s.whatsapp.net")])
    );
    assert_eq!(
        decrypt(
            &server,
            image.direct_path.as_deref().unwrap_or_default(),
            image.media_key.as_deref().unwrap_or_default(),
            MediaKind::Image,
        ),
        picture
    );
}
