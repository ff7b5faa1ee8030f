//! Text formatting between WhatsApp's markup (`*bold*`, `_italic_`, `~strike~`,
//! `` `code` ``, ```` ``` ```` blocks, `> ` quotes, `- ` and `1. ` lists) and Matrix HTML.

use ruma::html::{Html, NodeData, NodeRef};

use super::mentions::Mentions;

/// HTML-escapes text for a `formatted_body`.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn tag_of(delimiter: char) -> &'static str {
    match delimiter {
        '*' => "strong",
        '_' => "em",
        _ => "del",
    }
}

/// Whether `delimiter` at `chars[at]` may open a span: at the start or after a space or
/// punctuation, and before something that is not a space.
fn may_open(chars: &[char], at: usize) -> bool {
    let before_ok = at == 0 || !chars[at - 1].is_alphanumeric();
    let after_ok = chars.get(at + 1).is_some_and(|c| !c.is_whitespace());
    before_ok && after_ok
}

fn may_close(chars: &[char], at: usize) -> bool {
    let before_ok = at > 0 && !chars[at - 1].is_whitespace();
    let after_ok = chars.get(at + 1).is_none_or(|c| !c.is_alphanumeric());
    before_ok && after_ok
}

/// Formats one line's inline markup.
fn inline(chars: &[char]) -> String {
    let mut out = String::new();
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        if c == '`'
            && let Some(end) = (at + 1..chars.len()).find(|&i| chars[i] == '`')
            && end > at + 1
        {
            let code: String = chars[at + 1..end].iter().collect();
            out.push_str(&format!("<code>{}</code>", escape(&code)));
            at = end + 1;
            continue;
        }
        if matches!(c, '*' | '_' | '~')
            && may_open(chars, at)
            && let Some(end) = (at + 2..chars.len()).find(|&i| chars[i] == c && may_close(chars, i))
        {
            let tag = tag_of(c);
            out.push_str(&format!("<{tag}>{}</{tag}>", inline(&chars[at + 1..end])));
            at = end + 1;
            continue;
        }
        out.push_str(&escape(&c.to_string()));
        at += 1;
    }
    out
}

#[derive(PartialEq)]
enum Block {
    Quote,
    Bullets,
    Numbers,
}

fn block_of(line: &str) -> Option<(Block, &str)> {
    if let Some(rest) = line.strip_prefix("> ") {
        return Some((Block::Quote, rest));
    }
    if let Some(rest) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
        return Some((Block::Bullets, rest));
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits > 0
        && let Some(rest) = line[digits..].strip_prefix(". ")
    {
        return Some((Block::Numbers, rest));
    }
    None
}

fn open_tag(block: &Block) -> &'static str {
    match block {
        Block::Quote => "<blockquote>",
        Block::Bullets => "<ul>",
        Block::Numbers => "<ol>",
    }
}

fn close_tag(block: &Block) -> &'static str {
    match block {
        Block::Quote => "</blockquote>",
        Block::Bullets => "</ul>",
        Block::Numbers => "</ol>",
    }
}

/// WhatsApp text → Matrix HTML, or None when the text has no formatting (a plain body
/// says it all).
pub fn whatsapp_to_html(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut open: Option<Block> = None;
    let mut rest = text;
    let mut first_line = true;
    while !rest.is_empty() {
        // A monospace block runs from ``` to ```, across lines.
        if let Some(after) = rest.strip_prefix("```")
            && let Some(end) = after.find("```")
        {
            if let Some(block) = open.take() {
                out.push_str(close_tag(&block));
            }
            let code = after[..end].trim_matches('\n');
            out.push_str(&format!("<pre><code>{}</code></pre>", escape(code)));
            rest = after[end + 3..]
                .strip_prefix('\n')
                .unwrap_or(&after[end + 3..]);
            first_line = true;
            continue;
        }
        let (line, next) = match rest.find('\n') {
            Some(end) => (&rest[..end], &rest[end + 1..]),
            None => (rest, ""),
        };
        rest = next;
        match block_of(line) {
            Some((block, content)) => {
                if open.as_ref() != Some(&block) {
                    if let Some(previous) = open.take() {
                        out.push_str(close_tag(&previous));
                    } else if !first_line {
                        out.push_str("<br>");
                    }
                    out.push_str(open_tag(&block));
                    open = Some(block);
                } else if open == Some(Block::Quote) {
                    out.push_str("<br>");
                }
                let chars: Vec<char> = content.chars().collect();
                match open {
                    Some(Block::Quote) => out.push_str(&inline(&chars)),
                    _ => out.push_str(&format!("<li>{}</li>", inline(&chars))),
                }
            }
            None => {
                if let Some(block) = open.take() {
                    out.push_str(close_tag(&block));
                } else if !first_line {
                    out.push_str("<br>");
                }
                let chars: Vec<char> = line.chars().collect();
                out.push_str(&inline(&chars));
            }
        }
        first_line = false;
    }
    if let Some(block) = open {
        out.push_str(close_tag(&block));
    }
    let plain = escape(text).replace('\n', "<br>");
    (out != plain).then_some(out)
}

/// Matrix HTML → WhatsApp text (the reply fallback left out), and the JIDs of the
/// people its pills mention (each written `@number` in the text).
pub fn html_to_whatsapp(html: &str, mentions: &Mentions) -> (String, Vec<String>) {
    let document = Html::parse(html);
    let mut out = String::new();
    let mut walk_state = Walk {
        lists: Vec::new(),
        mentions,
        mentioned: Vec::new(),
    };
    for child in document.children() {
        walk(&child, &mut out, &mut walk_state);
    }
    (out.trim_end_matches('\n').to_owned(), walk_state.mentioned)
}

/// What the walk knows besides the text: the lists open around a node (for numbering),
/// who may be mentioned, and who was.
struct Walk<'a> {
    lists: Vec<Option<usize>>,
    mentions: &'a Mentions,
    mentioned: Vec<String>,
}

fn walk(node: &NodeRef, out: &mut String, state: &mut Walk) {
    match node.data() {
        NodeData::Text(text) => out.push_str(&text.borrow()),
        NodeData::Element(element) => {
            let name = element.name.local.as_ref();
            let children = |out: &mut String, state: &mut Walk| {
                for child in node.children() {
                    walk(&child, out, state);
                }
            };
            let wrapped = |out: &mut String, state: &mut Walk, mark: &str| {
                let mut inner = String::new();
                children(&mut inner, state);
                // WhatsApp's marks need the text right inside them.
                let trimmed = inner.trim();
                if trimmed.is_empty() {
                    out.push_str(&inner);
                } else {
                    out.push_str(&format!("{mark}{trimmed}{mark}"));
                }
            };
            match name {
                "mx-reply" => {}
                "b" | "strong" => wrapped(out, state, "*"),
                "i" | "em" => wrapped(out, state, "_"),
                "del" | "s" | "strike" => wrapped(out, state, "~"),
                "code" => wrapped(out, state, "`"),
                "pre" => {
                    let mut inner = String::new();
                    for child in node.children() {
                        // The code inside a block is the block.
                        match child.as_element().map(|e| e.name.local.as_ref() == "code") {
                            Some(true) => {
                                for grandchild in child.children() {
                                    walk(&grandchild, &mut inner, state);
                                }
                            }
                            _ => walk(&child, &mut inner, state),
                        }
                    }
                    out.push_str(&format!("```{}```\n", inner.trim_end_matches('\n')));
                }
                "br" => out.push('\n'),
                "p" | "div" => {
                    children(out, state);
                    out.push('\n');
                }
                "blockquote" => {
                    let mut inner = String::new();
                    children(&mut inner, state);
                    for line in inner.trim_end_matches('\n').lines() {
                        out.push_str(&format!("> {line}\n"));
                    }
                }
                "ul" | "ol" => {
                    state.lists.push((name == "ol").then_some(0));
                    children(out, state);
                    state.lists.pop();
                }
                "li" => {
                    let marker = match state.lists.last_mut() {
                        Some(Some(number)) => {
                            *number += 1;
                            format!("{number}. ")
                        }
                        _ => "- ".to_owned(),
                    };
                    let mut inner = String::new();
                    children(&mut inner, state);
                    out.push_str(&format!("{marker}{}\n", inner.trim()));
                }
                "a" => {
                    let mut inner = String::new();
                    children(&mut inner, state);
                    let href = element
                        .attrs
                        .borrow()
                        .iter()
                        .find(|attr| attr.name.local.as_ref() == "href")
                        .map(|attr| attr.value.to_string())
                        .unwrap_or_default();
                    let mention = super::mentions::pill_target(&href)
                        .and_then(|user| state.mentions.by_user(&user).cloned());
                    if let Some(mention) = mention {
                        out.push_str(&mention.token());
                        if !state.mentioned.contains(&mention.jid) {
                            state.mentioned.push(mention.jid);
                        }
                    } else if href.is_empty()
                        || href == inner
                        || href.starts_with("https://matrix.to/")
                    {
                        out.push_str(&inner);
                    } else {
                        out.push_str(&format!("{inner} ({href})"));
                    }
                }
                _ => children(out, state),
            }
        }
        NodeData::Document | NodeData::Other => {
            for child in node.children() {
                walk(&child, out, state);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn whatsapp_marks_become_html() {
        assert_eq!(whatsapp_to_html("hello"), None);
        assert_eq!(
            whatsapp_to_html("a < b & c"),
            None,
            "escaping alone is no formatting"
        );
        assert_eq!(
            whatsapp_to_html("*bold* _it_ ~gone~ `x`").as_deref(),
            Some("<strong>bold</strong> <em>it</em> <del>gone</del> <code>x</code>")
        );
        assert_eq!(
            whatsapp_to_html("*bold _and it_*").as_deref(),
            Some("<strong>bold <em>and it</em></strong>")
        );
        // Not marks: inside words, around spaces, unclosed.
        assert_eq!(whatsapp_to_html("2*3*4"), None);
        assert_eq!(whatsapp_to_html("snake_case_name"), None);
        assert_eq!(whatsapp_to_html("a * not bold * b"), None);
        assert_eq!(whatsapp_to_html("*open"), None);
        assert_eq!(
            whatsapp_to_html("```\nfn main() {}\n```").as_deref(),
            Some("<pre><code>fn main() {}</code></pre>")
        );
        assert_eq!(
            whatsapp_to_html("> quoted\n> more\nafter").as_deref(),
            Some("<blockquote>quoted<br>more</blockquote>after")
        );
        assert_eq!(
            whatsapp_to_html("list:\n- one\n- two").as_deref(),
            Some("list:<br><ul><li>one</li><li>two</li></ul>")
        );
        assert_eq!(
            whatsapp_to_html("1. one\n2. *two*").as_deref(),
            Some("<ol><li>one</li><li><strong>two</strong></li></ol>")
        );
        assert_eq!(
            whatsapp_to_html("*<script>*").as_deref(),
            Some("<strong>&lt;script&gt;</strong>")
        );
    }

    #[test]
    fn html_becomes_whatsapp_marks() {
        assert_eq!(
            html_to_whatsapp(
                "<strong>bold</strong> <em>it</em> <del>gone</del> <code>x</code>",
                &Mentions::default()
            )
            .0,
            "*bold* _it_ ~gone~ `x`"
        );
        assert_eq!(
            html_to_whatsapp("<pre><code>let x = 1;\n</code></pre>", &Mentions::default()).0,
            "```let x = 1;```"
        );
        assert_eq!(
            html_to_whatsapp("<blockquote>a<br>b</blockquote>c", &Mentions::default()).0,
            "> a\n> b\nc"
        );
        assert_eq!(
            html_to_whatsapp(
                "<ol><li>one</li><li>two</li></ol><ul><li>x</li></ul>",
                &Mentions::default()
            )
            .0,
            "1. one\n2. two\n- x"
        );
        assert_eq!(
            html_to_whatsapp(
                r#"<a href="https://example.org">site</a>"#,
                &Mentions::default()
            )
            .0,
            "site (https://example.org)"
        );
        assert_eq!(
            html_to_whatsapp(
                r#"<mx-reply><blockquote>old</blockquote></mx-reply>new"#,
                &Mentions::default()
            )
            .0,
            "new"
        );
        assert_eq!(
            html_to_whatsapp("a &lt; b &amp; c", &Mentions::default()).0,
            "a < b & c"
        );
    }

    #[test]
    fn pills_of_known_people_become_mentions() {
        let mentions = Mentions(vec![super::super::mentions::Mention {
            jid: "15550002001@s.whatsapp.net".into(),
            user: "@whatsapp_15550002001:example.com"
                .try_into()
                .expect("user"),
            name: String::new(),
        }]);
        let html = concat!(
            r#"hi <a href="https://matrix.to/#/@whatsapp_15550002001:example.com">Alice</a> "#,
            r#"and <a href="https://matrix.to/#/@carol:example.com">Carol</a>"#,
        );
        assert_eq!(
            html_to_whatsapp(html, &mentions),
            (
                "hi @15550002001 and Carol".to_owned(),
                vec!["15550002001@s.whatsapp.net".to_owned()]
            )
        );
    }

    proptest! {
        #[test]
        fn any_text_converts_without_panicking(text in "\\PC{0,200}") {
            let _ = whatsapp_to_html(&text);
            let _ = html_to_whatsapp(&text, &Mentions::default());
        }

        #[test]
        fn marked_up_text_converts_without_panicking(text in "[*_~`>\\-1. \\na-z<]{0,80}") {
            let _ = whatsapp_to_html(&text);
            let _ = html_to_whatsapp(&text, &Mentions::default());
        }
    }
}
