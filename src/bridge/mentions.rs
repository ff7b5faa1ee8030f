//! Who a mention names on the other side: WhatsApp JIDs → ghosts (or the owner, whose
//! own number pings them on Matrix), and Matrix pills → WhatsApp JIDs.

use ruma::UserId;

use super::Bridge;
use super::ghosts::{ghost_identifier, user_of_identifier};
use super::sessions::Owner;
use crate::convert::mentions::{Mention, Mentions, pill_target};
use crate::db::logins::LoginRow;
use crate::whatsapp::address::WaUser;

impl Bridge {
    /// The Matrix side of the people a WhatsApp message mentions. Someone the bridge
    /// cannot name stays as the `@number` WhatsApp wrote.
    pub(super) async fn mentions_from_whatsapp(&self, owner: &Owner, jids: &[String]) -> Mentions {
        let own = WaUser::from_phone(&owner.phone);
        let mut mentions = Vec::new();
        for jid in jids {
            let Some(user) = WaUser::parse(jid) else {
                continue;
            };
            let user = self.by_phone(user).await;
            if user == own {
                mentions.push(Mention {
                    jid: jid.clone(),
                    user: owner.user.clone(),
                    name: owner.user.localpart().to_owned(),
                });
                continue;
            }
            let ghost = match self.ghost(&user, "").await {
                Ok(ghost) => ghost,
                Err(err) => {
                    tracing::debug!(%jid, error = %err, "a mentioned contact has no ghost");
                    continue;
                }
            };
            let name = self
                .db
                .ghost_display_name(&ghost_identifier(&user))
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| user.to_string());
            mentions.push(Mention {
                jid: jid.clone(),
                user: ghost,
                name,
            });
        }
        Mentions(mentions)
    }

    /// The WhatsApp side of the Matrix users an HTML body links: ghosts, and the owner
    /// (as their own number). Other Matrix users are not on WhatsApp and stay as names.
    pub(super) fn mentions_from_matrix(&self, login: &LoginRow, html: Option<&str>) -> Mentions {
        let Some(html) = html else {
            return Mentions::default();
        };
        let mut mentions = Vec::new();
        for href in html
            .split("href=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
        {
            let Some(target) = pill_target(href) else {
                continue;
            };
            let Ok(user) = UserId::parse(target.as_str()) else {
                continue;
            };
            let person = if user == login.user_id {
                Some(WaUser::Phone(login.phone.clone()))
            } else {
                self.ids
                    .ghost_identifier(&user)
                    .and_then(user_of_identifier)
            };
            if let Some(person) = person
                && mentions.iter().all(|known: &Mention| known.user != user)
            {
                mentions.push(Mention {
                    jid: person.jid(),
                    user,
                    name: String::new(),
                });
            }
        }
        Mentions(mentions)
    }
}
