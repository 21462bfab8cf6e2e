//! The trait every pane implements. A pane owns its state, reacts to [`Action`]s (already
//! resolved from keys by the [`Keymap`]) and to raw input the keymap left alone (typed text,
//! paste, mouse), says whether it consumed the event, and draws itself into the `Rect` its parent
//! gives it. What it does not consume bubbles up to the parent; what it wants the app to do
//! (open a draft, start a load) it returns as a message rather than doing it itself.

use ratatui::Frame;
use ratatui::crossterm::event::Event;
use ratatui::layout::Rect;

use super::action::Action;
use super::keymap::{InputContext, Keymap};
use super::theme::Theme;

/// What a component did with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventState<M> {
    /// Not for this component: the parent should handle it.
    NotConsumed,
    /// Handled; nothing else to do beyond redrawing.
    Consumed,
    /// Handled, and the app should act on this message.
    Message(M),
}

impl<M> EventState<M> {
    /// True unless the event should bubble up.
    pub fn is_consumed(&self) -> bool {
        !matches!(self, EventState::NotConsumed)
    }

    /// `Consumed` when `handled`, else `NotConsumed`: for handlers that return a bool.
    pub fn from_handled(handled: bool) -> EventState<M> {
        if handled {
            EventState::Consumed
        } else {
            EventState::NotConsumed
        }
    }
}

/// Everything a component may need to draw besides its own state.
#[derive(Debug, Clone, Copy)]
pub struct DrawContext<'a> {
    /// Styles to draw with.
    pub theme: &'a Theme,
    /// The key table, for inline hints.
    pub keymap: &'a Keymap,
    /// Whether this component has keyboard focus (draw a highlighted border if so).
    pub focused: bool,
}

/// A pane of the explorer.
pub trait Component {
    /// What the component asks the app to do (shared by all panes of one app).
    type Message;

    /// Reacts to a user action. Return `NotConsumed` for actions this pane does not use.
    fn on_action(&mut self, action: Action) -> EventState<Self::Message>;

    /// Reacts to input the keymap did not turn into an action: typed characters in a text
    /// field, paste, mouse, resize. The default ignores it.
    fn on_input(&mut self, _event: &Event) -> EventState<Self::Message> {
        EventState::NotConsumed
    }

    /// Draws the pane into `area`. `&mut self` so a windowed list can remember its scroll offset.
    fn draw(&mut self, frame: &mut Frame, area: Rect, ctx: &DrawContext<'_>);

    /// The actions offered right now, most useful first, for the hint bar.
    fn actions(&self) -> Vec<Action>;

    /// `TextInput` while a text field inside this pane has focus.
    fn input_context(&self) -> InputContext {
        InputContext::Normal
    }
}

/// Sends one terminal event to `component`: keys go through `keymap` (in the component's input
/// context) and become [`Component::on_action`]; unmapped keys and other events go to
/// [`Component::on_input`]. Returns the component's answer and the action the key mapped to, so
/// the parent can apply it globally when it was not consumed. `ForceQuit` never reaches the
/// component.
pub fn dispatch<C: Component + ?Sized>(
    component: &mut C,
    keymap: &Keymap,
    event: &Event,
) -> (EventState<C::Message>, Option<Action>) {
    let Event::Key(key) = event else {
        return (component.on_input(event), None);
    };
    match keymap.action_for(key, component.input_context()) {
        Some(Action::ForceQuit) => (EventState::NotConsumed, Some(Action::ForceQuit)),
        Some(action) => (component.on_action(action), Some(action)),
        None => (component.on_input(event), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    /// A one-line text field that submits on Enter.
    #[derive(Default)]
    struct Field {
        text: String,
        editing: bool,
    }

    impl Component for Field {
        type Message = String;

        fn on_action(&mut self, action: Action) -> EventState<String> {
            match action {
                Action::Search => {
                    self.editing = true;
                    EventState::Consumed
                }
                Action::Toggle if self.editing => {
                    self.editing = false;
                    EventState::Message(std::mem::take(&mut self.text))
                }
                _ => EventState::NotConsumed,
            }
        }

        fn on_input(&mut self, event: &Event) -> EventState<String> {
            match event {
                Event::Key(KeyEvent {
                    code: KeyCode::Char(c),
                    ..
                }) if self.editing => {
                    self.text.push(*c);
                    EventState::Consumed
                }
                _ => EventState::NotConsumed,
            }
        }

        fn draw(&mut self, _frame: &mut Frame, _area: Rect, _ctx: &DrawContext<'_>) {}

        fn actions(&self) -> Vec<Action> {
            vec![Action::Search]
        }

        fn input_context(&self) -> InputContext {
            if self.editing {
                InputContext::TextInput
            } else {
                InputContext::Normal
            }
        }
    }

    fn key(code: KeyCode) -> Event {
        Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn keys_become_actions_then_text_then_a_message() {
        let map = Keymap::default();
        let mut field = Field::default();
        // 'q' outside the field is the quit action, which the field leaves to its parent.
        assert_eq!(
            dispatch(&mut field, &map, &key(KeyCode::Char('q'))),
            (EventState::NotConsumed, Some(Action::Quit))
        );
        assert_eq!(
            dispatch(&mut field, &map, &key(KeyCode::Char('/'))),
            (EventState::Consumed, Some(Action::Search))
        );
        // Inside the field 'q' and '?' are text, not quit and help.
        assert_eq!(
            dispatch(&mut field, &map, &key(KeyCode::Char('q'))),
            (EventState::Consumed, None)
        );
        assert_eq!(
            dispatch(&mut field, &map, &key(KeyCode::Char('?'))),
            (EventState::Consumed, None)
        );
        let submitted = dispatch(&mut field, &map, &key(KeyCode::Enter));
        assert_eq!(
            submitted,
            (EventState::Message("q?".to_string()), Some(Action::Toggle))
        );
    }

    #[test]
    fn force_quit_always_bubbles() {
        let map = Keymap::default();
        let mut field = Field {
            editing: true,
            ..Field::default()
        };
        let ctrl_c = Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert_eq!(
            dispatch(&mut field, &map, &ctrl_c),
            (EventState::NotConsumed, Some(Action::ForceQuit))
        );
        assert_eq!(field.text, "");
    }

    #[test]
    fn event_state_helpers() {
        assert!(EventState::<()>::Consumed.is_consumed());
        assert!(EventState::Message(1).is_consumed());
        assert!(!EventState::<()>::NotConsumed.is_consumed());
        assert_eq!(EventState::<()>::from_handled(true), EventState::Consumed);
        assert_eq!(
            EventState::<()>::from_handled(false),
            EventState::NotConsumed
        );
    }
}
