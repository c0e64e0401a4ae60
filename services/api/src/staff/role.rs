//! Staff roles and what each may do; the studio's rules, checked on the server for every request.

use std::fmt;

/// What a signed-in person (or a token) may do in the studio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Edits drafts, checks, simulates, runs tests, restores a version into the draft.
    Author,
    /// An author who may also publish and roll back.
    Publisher,
    /// Runs the gateway: the console and the audit trail; read-only in the studio.
    Operator,
    /// Everything, and the users.
    Admin,
    /// A bearer token with the `read` scope: GETs only. Not a role a user can hold.
    Reader,
}

impl Role {
    /// The roles a staff account can hold, least first.
    pub const STAFF: [Role; 4] = [Role::Author, Role::Publisher, Role::Operator, Role::Admin];

    /// A staff role by its name (`author`, `publisher`, `operator`, `admin`).
    pub fn parse(name: &str) -> Result<Self, BadRole> {
        Self::STAFF
            .into_iter()
            .find(|r| r.as_str() == name.trim())
            .ok_or_else(|| {
                BadRole(format!(
                    "unknown role `{}` (use author, publisher, operator or admin)",
                    name.trim()
                ))
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Author => "author",
            Role::Publisher => "publisher",
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::Reader => "read",
        }
    }

    /// Edit drafts, check, simulate, run tests, restore a version into the draft.
    pub fn can_edit(self) -> bool {
        matches!(self, Role::Author | Role::Publisher | Role::Admin)
    }

    /// Publish and roll back.
    pub fn can_publish(self) -> bool {
        matches!(self, Role::Publisher | Role::Admin)
    }

    /// See the console and the audit trail.
    pub fn can_operate(self) -> bool {
        matches!(self, Role::Operator | Role::Admin)
    }

    /// Manage users.
    pub fn can_admin(self) -> bool {
        self == Role::Admin
    }

    /// Anything but a GET (or HEAD): every role but a read-only token's.
    pub fn can_write(self) -> bool {
        self != Role::Reader
    }

    /// "an author", "a publisher", … for messages.
    pub fn with_article(self) -> &'static str {
        match self {
            Role::Author => "an author",
            Role::Publisher => "a publisher",
            Role::Operator => "an operator",
            Role::Admin => "an admin",
            Role::Reader => "a read-only token",
        }
    }
}

/// A role name that is not one of [`Role::STAFF`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRole(pub String);

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_may_do_what_the_contract_says() {
        // (role, edit, publish, admin, write)
        for (role, edit, publish, admin, write) in [
            (Role::Author, true, false, false, true),
            (Role::Publisher, true, true, false, true),
            (Role::Operator, false, false, false, true),
            (Role::Admin, true, true, true, true),
            (Role::Reader, false, false, false, false),
        ] {
            assert_eq!(
                (
                    role.can_edit(),
                    role.can_publish(),
                    role.can_admin(),
                    role.can_write()
                ),
                (edit, publish, admin, write),
                "{role}"
            );
        }
    }

    #[test]
    fn only_staff_roles_parse() {
        for role in Role::STAFF {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert_eq!(Role::parse(" admin "), Ok(Role::Admin));
        assert!(Role::parse("read").unwrap_err().0.contains("unknown role `read`"));
        assert!(Role::parse("root").is_err());
    }
}
