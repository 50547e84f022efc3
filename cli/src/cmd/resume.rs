//! `ptl resume RUN`: let a paused cluster run go on. Every agent continues from the same
//! instant, shortly ahead, where its schedules were (the rest of the plan moves by the pause).

use super::pause::{change, Verb};
use crate::flags::PauseArgs;
use crate::output::Done;

pub fn run(args: &PauseArgs) -> Done {
    change(args, Verb::Resume)
}
