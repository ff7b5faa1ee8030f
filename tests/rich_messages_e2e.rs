//! Locations, contact cards and polls end to end: what a fake WhatsApp contact shares
//! arrives in the portal as a Matrix location, a vCard file (its bytes compared after
//! download) and a Matrix poll; a location and a poll sent in the portal reach the phone.

mod common;

use common::bridge::Database;
use common::whatsapp::{LINKING, Linked, linked, server_event};
use fakewa::proto as wa;
use fakewa::{Chat, SendOptions, ServerEvent};
use serde_json::json;
use whatsapp_rust::waproto::buffa;

const PHONE: &str = "15550001234";
const ALICE: &str = "15550002001";
const GHOST: &str = "@whatsapp_15550002001:localhost";
const DINNER_SECRET: [u8; 32] = [5; 32];
const VCARD: &str =
    "BEGIN:VCARD\nVERSION:3.0\nFN:Bob Builder\nTEL;type=CELL:+15550002002\nEND:VCARD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locations_contact_cards_and_polls_arrive_and_locations_go_back() {
    let Linked {
        server,
        env: _env,
        mut seen,
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
    send(wa::Message {
        location_message: buffa::MessageField::some(wa::message::LocationMessage {
            degrees_latitude: Some(48.858370),
            degrees_longitude: Some(2.294481),
            name: Some("Eiffel Tower".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    send(wa::Message {
        contact_message: buffa::MessageField::some(wa::message::ContactMessage {
            display_name: Some("Bob Builder".into()),
            vcard: Some(VCARD.into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let dinner_poll = send(wa::Message {
        message_context_info: buffa::MessageField::some(wa::MessageContextInfo {
            message_secret: Some(DINNER_SECRET.to_vec()),
            ..Default::default()
        }),
        poll_creation_message_v3: buffa::MessageField::some(wa::message::PollCreationMessage {
            name: Some("Dinner where?".into()),
            options: ["Home", "Out"]
                .into_iter()
                .map(|name| wa::message::poll_creation_message::Option {
                    option_name: Some(name.into()),
                    ..Default::default()
                })
                .collect(),
            selectable_options_count: Some(1),
            ..Default::default()
        }),
        ..Default::default()
    });

    let room = common::wait_for("the portal invite", LINKING, || async {
        let (room, _) = person.invites().await.into_iter().next()?;
        person.join(&room).await;
        Some(room)
    })
    .await;
    let events = common::wait_for("the three messages", LINKING, || async {
        let events: Vec<_> = person
            .timeline(&room)
            .await
            .into_iter()
            .filter(|event| event["sender"] == GHOST && event["type"] != "m.room.member")
            .collect();
        (events.len() >= 3).then_some(events)
    })
    .await;
    assert_eq!(events.len(), 3, "{events:?}");
    let place = &events[0]["content"];
    assert_eq!(place["msgtype"], "m.location");
    assert_eq!(place["geo_uri"], "geo:48.858370,2.294481");
    assert_eq!(place["body"], "Location: Eiffel Tower");
    let card = &events[1]["content"];
    assert_eq!(card["msgtype"], "m.file");
    assert_eq!(card["body"], "Bob Builder.vcf");
    assert_eq!(card["info"]["mimetype"], "text/vcard");
    let url = card["url"].as_str().expect("an mxc URL");
    assert_eq!(person.download(url).await, VCARD.as_bytes());
    assert_eq!(events[2]["type"], "org.matrix.msc3381.poll.start");
    let poll = &events[2]["content"]["org.matrix.msc3381.poll.start"];
    assert_eq!(poll["question"]["org.matrix.msc1767.text"], "Dinner where?");
    assert_eq!(poll["answers"][1]["org.matrix.msc1767.text"], "Out");
    assert_eq!(poll["max_selections"], 1);
    assert_eq!(
        poll["kind"], "org.matrix.msc3381.poll.disclosed",
        "WhatsApp shows results"
    );
    assert_eq!(
        events[2]["content"]["org.matrix.msc1767.text"],
        "Poll: Dinner where?\n1. Home\n2. Out"
    );

    person
        .send_event(
            &room,
            "m.room.message",
            json!({ "msgtype": "m.location", "body": "Meet here", "geo_uri": "geo:51.5007,-0.1246" }),
        )
        .await;
    let at_alice = server_event(&mut seen, "the location at alice", |event| match event {
        ServerEvent::MessageDecrypted(received) if received.recipient.user == ALICE => {
            received.message.location_message.as_option().cloned()
        }
        _ => None,
    })
    .await;
    assert_eq!(at_alice.degrees_latitude, Some(51.5007));
    assert_eq!(at_alice.degrees_longitude, Some(-0.1246));
    assert_eq!(at_alice.name.as_deref(), Some("Meet here"));

    // A Matrix poll reaches the phone as a WhatsApp poll, with its secret for the votes.
    person
        .send_event(
            &room,
            "org.matrix.msc3381.poll.start",
            json!({
                "org.matrix.msc3381.poll.start": {
                    "question": { "org.matrix.msc1767.text": "Which film?" },
                    "kind": "org.matrix.msc3381.poll.disclosed",
                    "max_selections": 1,
                    "answers": [
                        { "id": "a", "org.matrix.msc1767.text": "Alien" },
                        { "id": "b", "org.matrix.msc1767.text": "Brazil" }
                    ]
                },
                "org.matrix.msc1767.text": "Which film?\n1. Alien\n2. Brazil"
            }),
        )
        .await;
    let poll = server_event(&mut seen, "the poll at alice", |event| match event {
        ServerEvent::MessageDecrypted(received) if received.recipient.user == ALICE => {
            let secret = received
                .message
                .message_context_info
                .as_option()
                .and_then(|info| info.message_secret.clone());
            received
                .message
                .poll_creation_message_v3
                .as_option()
                .cloned()
                .map(|poll| (poll, secret, received.id.clone()))
        }
        _ => None,
    })
    .await;
    let (poll, secret, poll_id) = poll;
    assert_eq!(poll.name.as_deref(), Some("Which film?"));
    let options: Vec<_> = poll
        .options
        .iter()
        .filter_map(|option| option.option_name.clone())
        .collect();
    assert_eq!(options, ["Alien", "Brazil"]);
    assert_eq!(poll.selectable_options_count, Some(1));
    let secret = secret.expect("votes need the secret");
    assert_eq!(secret.len(), 32);

    // Alice votes on her phone: her ghost answers the Matrix poll with the same choice.
    alice
        .vote(
            &chat,
            &poll_id,
            &fakewa::Jid::pn(PHONE),
            false,
            &secret,
            &["Brazil"],
        )
        .expect("vote");
    let poll_event = common::wait_for("the poll in the portal", LINKING, || async {
        person
            .timeline(&room)
            .await
            .into_iter()
            .find(|event| {
                event["type"] == "org.matrix.msc3381.poll.start" && event["sender"] != GHOST
            })
            .and_then(|event| event["event_id"].as_str().map(str::to_owned))
    })
    .await;
    let response = common::wait_for("alice's vote", LINKING, || async {
        person.timeline(&room).await.into_iter().find(|event| {
            event["type"] == "org.matrix.msc3381.poll.response"
                && event["content"]["m.relates_to"]["event_id"] == poll_event.as_str()
        })
    })
    .await;
    assert_eq!(response["sender"], GHOST);
    assert_eq!(
        response["content"]["org.matrix.msc3381.poll.response"]["answers"],
        json!(["b"])
    );

    // Alice votes in her own poll: the vote answers the poll she created.
    alice
        .vote(
            &chat,
            &dinner_poll,
            &alice.jid(),
            true,
            &DINNER_SECRET,
            &["Out"],
        )
        .expect("vote");
    let dinner_event = events[2]["event_id"]
        .as_str()
        .expect("poll event")
        .to_owned();
    let response = common::wait_for("alice's dinner vote", LINKING, || async {
        person.timeline(&room).await.into_iter().find(|event| {
            event["type"] == "org.matrix.msc3381.poll.response"
                && event["content"]["m.relates_to"]["event_id"] == dinner_event.as_str()
        })
    })
    .await;
    assert_eq!(
        response["content"]["org.matrix.msc3381.poll.response"]["answers"],
        json!(["2"])
    );

    // The person votes in Alice's poll from Matrix: her phone reads the vote.
    person
        .send_event(
            &room,
            "org.matrix.msc3381.poll.response",
            json!({
                "m.relates_to": { "rel_type": "m.reference", "event_id": dinner_event },
                "org.matrix.msc3381.poll.response": { "answers": ["1"] }
            }),
        )
        .await;
    let vote = server_event(&mut seen, "the vote at alice", |event| match event {
        ServerEvent::MessageDecrypted(received) if received.recipient.user == ALICE => {
            received.message.poll_update_message.as_option().cloned()
        }
        _ => None,
    })
    .await;
    let key = vote
        .poll_creation_message_key
        .as_option()
        .expect("the poll's key");
    assert_eq!(key.id.as_deref(), Some(dinner_poll.as_str()));
    let encrypted = vote.vote.as_option().expect("an encrypted vote");
    let chosen = whatsapp_rust::wacore::poll::decrypt_poll_vote_with_secret(
        whatsapp_rust::wacore::poll::PollVoteCiphertext {
            enc_payload: encrypted.enc_payload.as_deref().unwrap_or_default(),
            enc_iv: encrypted.enc_iv.as_deref().unwrap_or_default(),
        },
        &DINNER_SECRET,
        &dinner_poll,
        &format!("{ALICE}@s.whatsapp.net"),
        &format!("{PHONE}@s.whatsapp.net"),
    )
    .expect("alice's phone can read the vote");
    assert_eq!(
        chosen,
        vec![whatsapp_rust::wacore::poll::compute_option_hash("Home").to_vec()]
    );
}
