//! Screen limits: a USSD reply longer than the channel's screen is split into pages, each
//! ending with a "more" option. The paging itself is pure and lives in the flow language
//! (`seedgate_flowlang::pages`), so the studio's simulator pages screens as a phone sees them.

pub use seedgate_flowlang::pages::paginate;
