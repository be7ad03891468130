//! The pause process: PID 1 of every pod sandbox. It holds the pod's namespaces open, reaps
//! orphaned children and exits 0 on SIGTERM or SIGINT. Built by `build.rs` as a static binary
//! without the Rust standard library so the pause image is under 1 MB and needs no registry.
#![no_std]
#![no_main]

use core::ffi::c_int;

#[link(name = "c")]
#[link(name = "gcc_eh")]
#[link(name = "gcc")]
unsafe extern "C" {
    fn signal(sig: c_int, handler: usize) -> usize;
    fn pause() -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn _exit(code: c_int) -> !;
}

const SIGINT: c_int = 2;
const SIGTERM: c_int = 15;
const SIGCHLD: c_int = 17;
const WNOHANG: c_int = 1;

extern "C" fn on_stop(_: c_int) {
    unsafe { _exit(0) }
}

extern "C" fn on_child(_: c_int) {
    unsafe { while waitpid(-1, core::ptr::null_mut(), WNOHANG) > 0 {} }
}

#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: c_int, _argv: *const *const u8) -> c_int {
    let stop = on_stop as extern "C" fn(c_int) as usize;
    let child = on_child as extern "C" fn(c_int) as usize;
    unsafe {
        signal(SIGINT, stop);
        signal(SIGTERM, stop);
        signal(SIGCHLD, child);
        loop {
            pause();
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    unsafe { _exit(2) }
}
