//! Caption edits from WhatsApp: the file's Matrix event is replaced by the same file with
//! the new caption (MSC2530: the caption is the body, the name stays in `filename`).

use serde_json::{Value, json};

use super::inbound::{Speaker, txn_for};
use super::{Bridge, BridgeError};
use crate::convert::formatting::whatsapp_to_html;
use crate::whatsapp::address::WaChat;
use crate::whatsapp::inbox::InboxEntry;

/// The replacement content of a file event for a new caption; None for what is no file.
pub fn recaptioned(original: &Value, caption: &str) -> Option<Value> {
    let mut new = original.as_object()?.clone();
    new.get("url")?;
    for key in ["m.relates_to", "m.new_content", "format", "formatted_body"] {
        new.remove(key);
    }
    if !new.contains_key("filename") {
        let name = new.get("body").cloned().unwrap_or(Value::Null);
        new.insert("filename".into(), name);
    }
    let caption = caption.trim();
    if caption.is_empty() {
        // No caption: the body is the file's name again.
        let name = new.get("filename").cloned().unwrap_or(Value::Null);
        new.insert("body".into(), name);
    } else {
        new.insert("body".into(), json!(caption));
        if let Some(html) = whatsapp_to_html(caption) {
            new.insert("format".into(), json!("org.matrix.custom.html"));
            new.insert("formatted_body".into(), json!(html));
        }
    }
    Some(Value::Object(new))
}

pub(super) async fn edit_caption(
    bridge: &Bridge,
    chat: &WaChat,
    entry: &InboxEntry,
    speaker: &Speaker,
    target: &str,
    caption: &str,
) -> Result<(), BridgeError> {
    let device_id = speaker.portal.device_id;
    let room = &speaker.portal.room_id;
    let original = bridge
        .db
        .mapped_by_wa_id(device_id, &chat.jid(), target)
        .await?
        .into_iter()
        .find(|part| part.part >= 0);
    let txn = txn_for(device_id, &chat.jid(), &entry.message_id, 0);
    let replacement = match &original {
        Some(original) => {
            let content = bridge
                .client
                .event_content(bridge.ids.bot(), room, &original.event_id)
                .await?;
            recaptioned(&content, caption).map(|new| (original.event_id.clone(), new))
        }
        None => None,
    };
    let Some((original, new)) = replacement else {
        let notice = ruma::events::room::message::RoomMessageEventContent::notice_plain(format!(
            "Changed the caption of a file to: {caption}"
        ));
        bridge
            .client
            .send_message_at(&speaker.ghost, room, txn, &notice, entry.sent_at_ms)
            .await?;
        return Ok(());
    };
    let mut edit = new.clone();
    if let Some(fields) = edit.as_object_mut() {
        let body = fields
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let fallback = format!("* {body}");
        fields.insert("body".into(), json!(fallback));
        fields.remove("format");
        fields.remove("formatted_body");
        fields.insert("m.new_content".into(), new);
        fields.insert(
            "m.relates_to".into(),
            json!({ "rel_type": "m.replace", "event_id": original }),
        );
    }
    bridge
        .client
        .send_json_message_at(&speaker.ghost, room, txn, &edit, entry.sent_at_ms)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_caption_keeps_the_file() {
        let original = json!({
            "msgtype": "m.image", "body": "old", "filename": "image.jpg",
            "url": "mxc://x/y", "format": "org.matrix.custom.html", "formatted_body": "old"
        });
        let new = recaptioned(&original, "the *new* one").expect("a file");
        assert_eq!(new["url"], "mxc://x/y");
        assert_eq!(new["filename"], "image.jpg");
        assert_eq!(new["body"], "the *new* one");
        assert_eq!(new["formatted_body"], "the <strong>new</strong> one");
        let bare = recaptioned(&original, "").expect("a file");
        assert_eq!(bare["body"], "image.jpg");
        assert!(bare.get("formatted_body").is_none());
        assert_eq!(
            recaptioned(&json!({"msgtype": "m.text", "body": "hi"}), "x"),
            None
        );
    }
}
