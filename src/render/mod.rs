//! Turning plans, drift and state into text for people and JSON for machines.
//!
//! Every renderer here shows values through `provider_api::Value`'s `Display` (text) or
//! `Value::to_redacted_json` (JSON), both of which replace sensitive values with
//! `(sensitive value)`: nothing in this module can print a secret.

mod drift;
mod nested;
mod plan;
mod state;

pub use drift::{drift_json, drift_text};
pub use plan::{plan_json, plan_text};
pub use state::{state_list_json, state_list_text, state_show_text};

use owo_colors::OwoColorize;
use planner::plan::Action;

/// A colour role in rendered text.
#[derive(Clone, Copy)]
enum Paint {
    Add,
    Change,
    Remove,
    Bold,
    Dim,
}

/// Paints `text` in the colour of `paint`, or returns it unchanged when `color` is false.
fn paint(text: &str, paint: Paint, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    match paint {
        Paint::Add => text.green().to_string(),
        Paint::Change => text.yellow().to_string(),
        Paint::Remove => text.red().to_string(),
        Paint::Bold => text.bold().to_string(),
        Paint::Dim => text.dimmed().to_string(),
    }
}

/// The symbol Terraform users know for an action: `+`, `~`, `-/+` (`+/-` when the
/// replacement is created first) or `-`.
fn action_symbol(action: Action, create_before_destroy: bool, color: bool) -> String {
    match action {
        Action::Create => paint("+", Paint::Add, color),
        Action::Update => paint("~", Paint::Change, color),
        Action::Delete => paint("-", Paint::Remove, color),
        Action::Replace if create_before_destroy => format!(
            "{}/{}",
            paint("+", Paint::Add, color),
            paint("-", Paint::Remove, color)
        ),
        Action::Replace => format!(
            "{}/{}",
            paint("-", Paint::Remove, color),
            paint("+", Paint::Add, color)
        ),
        Action::NoOp => " ".to_string(),
    }
}

/// The name used for an action in JSON documents (`no_op`, `create`, ...), the same spelling
/// as in saved plans.
pub(crate) fn action_name(action: Action) -> &'static str {
    match action {
        Action::NoOp => "no_op",
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "delete",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_match_the_saved_plan_spelling() {
        for action in [
            Action::NoOp,
            Action::Create,
            Action::Update,
            Action::Replace,
            Action::Delete,
        ] {
            assert_eq!(
                serde_json::to_value(action).expect("serialises"),
                serde_json::Value::from(action_name(action))
            );
        }
    }

    #[test]
    fn colour_only_when_asked() {
        assert_eq!(action_symbol(Action::Replace, false, false), "-/+");
        assert_eq!(action_symbol(Action::Replace, true, false), "+/-");
        assert!(action_symbol(Action::Create, false, true).contains("\u{1b}["));
    }
}
