//! What the throughput sections share: a person's portals with fake contacts, and the
//! two paths each measurement takes.

use fakewa::{Contact, FakeServer};

use crate::common::user::MatrixUser;
use crate::common::whatsapp::LINKING;

/// One chat: its contact, its portal, and the contact's ghost there.
pub struct Portal {
    pub contact: Contact,
    pub room: String,
    pub ghost: String,
}

/// One message from each contact opens its portal; the person joins them all.
pub async fn open_portals(
    server: &FakeServer,
    user: &MatrixUser,
    phone: &str,
    contact_prefix: &str,
    chats: usize,
) -> Vec<Portal> {
    let contacts: Vec<Contact> = (0..chats)
        .map(|c| {
            server
                .contact(&format!("{contact_prefix}{c:04}"))
                .expect("contact")
        })
        .collect();
    for (c, contact) in contacts.iter().enumerate() {
        contact
            .send_text(phone, &format!("opening chat {c}"))
            .expect("send");
    }
    let mut rooms = Vec::new();
    user.join_invites(&mut rooms, chats, LINKING).await;
    let mut portals = Vec::new();
    for (c, contact) in contacts.into_iter().enumerate() {
        let opening = format!("opening chat {c}");
        let (room, ghost) = crate::common::wait_for("the opening message", LINKING, || async {
            for room in &rooms {
                let found = user.timeline(room).await.into_iter().find(|event| {
                    event["type"] == "m.room.message" && event["content"]["body"] == opening
                });
                if let Some(event) = found {
                    let ghost = event["sender"].as_str().expect("sender").to_owned();
                    return Some((room.clone(), ghost));
                }
            }
            None
        })
        .await;
        portals.push(Portal {
            contact,
            room,
            ghost,
        });
    }
    portals
}

/// Through the bridge, or the direct path it is measured against.
#[derive(Clone, Copy)]
pub enum Path {
    Bridge,
    Direct,
}

impl Path {
    pub fn tag(self) -> &'static str {
        match self {
            Path::Bridge => "bridge",
            Path::Direct => "direct",
        }
    }
}
