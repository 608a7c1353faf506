//! Settings restored from a saved project reach the running engine, whatever
//! order the host calls things in.
//!
//! Hosts restore state before activation (REAPER, Bitwig, the CLAP host
//! test), after it (Ardour 7 activates a VST3 plugin first and calls
//! `setState` afterwards) or while processing (loading a preset). nice-plug
//! 0.4.2 does not re-activate the plugin after a state load; it only writes
//! the persisted fields through [`Params::deserialize_fields`]. So the
//! [`Params`] object the wrapper holds is [`RestoringParams`]: it delegates to
//! [`EmoscopeParams`] and, once the fields are in, hands them to the running
//! engine with [`PluginShared::apply`] (which sends only what changed). Before
//! activation there is no engine yet and `activate` starts one with the
//! restored settings.
//!
//! Threads: nice-plug calls `deserialize_fields` on the thread the host
//! loads state on (CLAP `state.load` and VST3 `setState` are main-thread
//! calls), never on the audio thread for a host load. It would run on the
//! audio thread only for a state set from the editor through
//! `GuiContext::set_state` while processing, which Emoscope's editor never
//! does. The audio thread reads none of this: it sees the MIDI CC mapping
//! through one atomic word ([`crate::midi::SharedCcMapping`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use nice_plug::prelude::*;

use crate::params::EmoscopeParams;
use crate::shared::PluginShared;

/// The plugin's [`Params`] as the wrapper sees them: [`EmoscopeParams`],
/// plus applying restored settings to the engine after every state load.
pub struct RestoringParams {
    params: Arc<EmoscopeParams>,
    shared: Arc<PluginShared>,
}

impl RestoringParams {
    /// Wraps the plugin's parameters and its shared state.
    pub fn new(params: Arc<EmoscopeParams>, shared: Arc<PluginShared>) -> Self {
        Self { params, shared }
    }
}

// SAFETY: `param_map` returns `EmoscopeParams`' own (derived) map, whose
// pointers point into the `EmoscopeParams` this struct keeps alive through its
// `Arc` for as long as the wrapper holds it, as nice-plug's own
// `impl Params for Arc<P>` does.
unsafe impl Params for RestoringParams {
    fn param_map(&self) -> Vec<(String, ParamPtr, String)> {
        self.params.param_map()
    }

    fn serialize_fields(&self) -> BTreeMap<String, String> {
        self.params.serialize_fields()
    }

    fn deserialize_fields(&self, serialized: &BTreeMap<String, String>) {
        self.params.deserialize_fields(serialized);
        self.shared.apply(&self.params);
    }
}
