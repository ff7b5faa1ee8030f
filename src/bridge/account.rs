//! The commands about a user's WhatsApp account: login, cancel, logout, list-logins.

use ruma::{RoomId, UserId};

use super::connection::LinkState;
use super::login::chat::ChatFrontEnd;
use super::login::driver::LoginRequest;
use super::login::{FlowInput, FlowKey, FlowOrigin, LoginMethod};
use super::logins::{LoggedOut, Reconnect};
use super::sessions::Owner;
use super::{Bridge, BridgeError};
use crate::whatsapp::phone::PhoneNumber;

pub(super) struct Context<'a> {
    pub bridge: &'a Bridge,
    pub user: &'a UserId,
    pub room: &'a RoomId,
    pub in_management_room: bool,
}

const LOGIN_HELP: &str = "Link your WhatsApp account in one of two ways:\n\n\
* `login qr` — scan a QR code with WhatsApp on your phone;\n\
* `login phone` — enter a code on your phone instead (you can give the number right away: \
`login phone +15551234567`).";

/// Starts a login flow, which then speaks for itself; returns an answer only when it
/// did not start.
pub(super) async fn login(
    context: &Context<'_>,
    args: &str,
) -> Result<Option<String>, BridgeError> {
    let mut words = args.split_whitespace();
    let (method, phone) = match words.next().map(str::to_lowercase).as_deref() {
        None => return Ok(Some(LOGIN_HELP.into())),
        Some("qr") => (LoginMethod::Qr, None),
        Some("phone") | Some("code") => {
            let rest: Vec<&str> = words.collect();
            if rest.is_empty() {
                (LoginMethod::PairingCode, None)
            } else {
                match PhoneNumber::parse(&rest.join(" ")) {
                    Ok(phone) => (LoginMethod::PairingCode, Some(phone)),
                    Err(err) => return Ok(Some(err.to_string())),
                }
            }
        }
        Some(other) => {
            return Ok(Some(format!(
                "`{other}` is not a way to log in. {LOGIN_HELP}"
            )));
        }
    };
    if !context.in_management_room {
        return Ok(Some(
            "Log in from your direct chat with me: a login code must not be shown in a shared room.".into(),
        ));
    }
    let bridge = context.bridge;
    let front = ChatFrontEnd::new(
        bridge.client.clone(),
        bridge.ids.bot().to_owned(),
        context.room.to_owned(),
        rand::random(),
    );
    let request = LoginRequest {
        user: context.user.to_owned(),
        method,
        phone,
        api_device: None,
    };
    match bridge.start_login(request, FlowOrigin::Chat, front) {
        Ok(_) => Ok(None),
        Err(err) => Ok(Some(err.to_string())),
    }
}

pub(super) fn cancel(context: &Context<'_>) -> Option<String> {
    let told = context
        .bridge
        .flows
        .tell(&FlowKey::chat(context.user), FlowInput::Cancel);
    (!told).then(|| "There is no login in progress.".to_owned())
}

pub(super) async fn logout(context: &Context<'_>) -> Result<String, BridgeError> {
    let bridge = context.bridge;
    let logins = bridge.logins_of(context.user).await?;
    if logins.is_empty() {
        return Ok("You are not logged in to WhatsApp.".into());
    }
    let mut lines = Vec::new();
    for login in logins {
        lines.push(match bridge.log_out(&login).await? {
            LoggedOut::Unlinked => format!("Logged out of +{}: the bridge is no longer a linked device of that account.", login.phone),
            LoggedOut::ForgottenOnly => format!(
                "Logged out of +{}. The bridge could not reach WhatsApp to unlink itself: remove it on your phone under Linked devices.",
                login.phone
            ),
        });
    }
    Ok(lines.join("\n"))
}

pub(super) async fn list_logins(context: &Context<'_>) -> Result<String, BridgeError> {
    let bridge = context.bridge;
    let logins = bridge.db.logins_of(context.user).await?;
    if logins.is_empty() {
        return Ok("You are not logged in to WhatsApp. Send `login qr` or `login phone` to link your account.".into());
    }
    let now = bridge.clock.now_ms();
    let lines: Vec<String> = logins
        .iter()
        .map(|login| {
            let state = match bridge.sessions.state(login.device_id) {
                Some(state) => describe(&state, now),
                None => "not connected (send `reconnect`)".to_owned(),
            };
            let seen = bridge
                .sessions
                .phone_seen(login.device_id)
                .or(login.phone_last_seen_ms);
            format!(
                "* +{} — {state}; {}",
                login.phone,
                phone_seen_text(seen, now)
            )
        })
        .collect();
    Ok(format!("Your WhatsApp logins:\n\n{}", lines.join("\n")))
}

/// When the phone was last heard from, as people say it.
fn phone_seen_text(seen_ms: Option<i64>, now_ms: i64) -> String {
    let Some(seen) = seen_ms else {
        return "the phone has not been heard from since the bridge linked".into();
    };
    let minutes = now_ms.saturating_sub(seen) / 60_000;
    let ago = match minutes {
        0 => "just now".to_owned(),
        1 => "1 minute ago".to_owned(),
        m if m < 120 => format!("{m} minutes ago"),
        m if m < 48 * 60 => format!("{} hours ago", m / 60),
        m => format!("{} days ago", m / (24 * 60)),
    };
    format!("phone last seen {ago}")
}

fn describe(state: &LinkState, now_ms: i64) -> String {
    match state {
        LinkState::Connecting => "connecting".into(),
        LinkState::Connected => "connected".into(),
        LinkState::Reconnecting { since_ms } => format!(
            "reconnecting (down for {} s)",
            now_ms.saturating_sub(*since_ms) / 1000
        ),
        LinkState::LoggedOut(_) => "logged out by WhatsApp".into(),
        LinkState::TemporarilyBanned { until_ms } => format!(
            "temporarily banned by WhatsApp for about {} more minutes",
            (until_ms.saturating_sub(now_ms) / 60_000).max(1)
        ),
        LinkState::ClientOutdated => {
            "refused: client outdated (send `reconnect` after updating)".into()
        }
        LinkState::Replaced => "stopped: another connection took over (send `reconnect`)".into(),
        LinkState::Refused { code } => {
            format!("refused by WhatsApp (code {code}; send `reconnect`)")
        }
    }
}

/// `sync groups`, `sync contacts`.
pub(super) async fn sync(context: &Context<'_>, args: &str) -> Result<String, BridgeError> {
    let what = args.trim();
    if what != "groups" && what != "contacts" {
        return Ok("Send `sync groups` to get a portal for every WhatsApp group you are in, or `sync contacts` to bring your contacts' names and pictures up to date.".into());
    }
    let bridge = context.bridge;
    let Some(login) = bridge.db.logins_of(context.user).await?.into_iter().next() else {
        return Ok("You are not logged in to WhatsApp.".into());
    };
    let Ok(phone) = PhoneNumber::parse(&login.phone) else {
        return Ok("Your stored login has no readable number; log in again.".into());
    };
    if what == "contacts" {
        return bridge.sync_contacts(login.device_id).await;
    }
    let owner = Owner {
        user: context.user.to_owned(),
        phone,
    };
    bridge.sync_all_groups(login.device_id, &owner).await
}

/// Restarts the sessions of the user's logins that are not connected.
pub(super) async fn reconnect(context: &Context<'_>) -> Result<String, BridgeError> {
    let bridge = context.bridge;
    let logins = bridge.logins_of(context.user).await?;
    if logins.is_empty() {
        return Ok("You are not logged in to WhatsApp.".into());
    }
    let mut lines = Vec::new();
    for login in logins {
        let phone = format!("+{}", login.phone);
        lines.push(match bridge.reconnect(&login).await {
            Reconnect::AlreadyConnected => format!("{phone} is connected already."),
            Reconnect::Started => format!("Reconnecting {phone}…"),
            Reconnect::Failed(why) => format!("{phone}: {why}"),
        });
    }
    Ok(lines.join("\n"))
}
