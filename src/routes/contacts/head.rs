//! What every tab of a contact's page shows above its own content: the
//! contact's name, type, level and labels, the actions, and the tab bar with
//! its counts. One query set, loaded with the tab's own data.

use diesel::prelude::*;

use crate::{
    domain::staff::{avatar_hue, initials},
    error::{AppError, AppResult},
    models::{
        contact::Contact,
        label::Label,
        visibility::{self, Member},
    },
    schema::{contact_changes, contact_shares, contacts},
};

/// The tabs of a contact's page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Profile,
    Activity,
    Sharing,
    Changes,
}

pub struct ContactHead {
    pub contact: Contact,
    pub name: String,
    pub initials: String,
    pub hue: u32,
    pub labels: Vec<Label>,
    pub changes: i64,
    pub shares: i64,
    /// What the Activity tab holds: enquiries, logged calls and SMS, page
    /// views (its sections show them too).
    pub enquiries: i64,
    pub engagements: i64,
    pub page_views: i64,
    pub tab: Tab,
    /// For a merged record: the contact it lives on as (id, name).
    pub merged_into: Option<(i64, String)>,
}

impl ContactHead {
    /// The contact `id` as `member` may see it: a contact in the trash is
    /// for administrators only, and one the visibility rule hides is, like
    /// one that does not exist, not found.
    pub fn load(
        conn: &mut PgConnection,
        member: Member,
        id: i64,
        tab: Tab,
    ) -> AppResult<ContactHead> {
        let contact: Contact = contacts::table
            .find(id)
            .select(Contact::as_select())
            .first(conn)
            .optional()?
            .ok_or(AppError::NotFound)?;
        // A merged record's pages lead to the contact it was merged into;
        // its own history stays readable, to whoever may see that contact.
        let merged_into = match contact.merged_into {
            Some(_) => {
                let target =
                    crate::models::merge::final_target(conn, id)?.ok_or(AppError::NotFound)?;
                if !visibility::sees(conn, member, target)? {
                    return Err(AppError::NotFound);
                }
                if tab != Tab::Changes {
                    return Err(AppError::SeeOther(format!(
                        "/contacts/{target}?merged={id}"
                    )));
                }
                let name = contacts::table
                    .find(target)
                    .select(Contact::as_select())
                    .first(conn)?
                    .display_name();
                Some((target, name))
            }
            None => None,
        };
        if merged_into.is_none() {
            if contact.deleted_at.is_some() && !member.admin {
                return Err(AppError::NotFound);
            }
            if !visibility::sees(conn, member, id)? {
                return Err(AppError::NotFound);
            }
        }
        let changes = contact_changes::table
            .filter(contact_changes::contact_id.eq(id))
            .count()
            .get_result(conn)?;
        let shares = contact_shares::table
            .filter(contact_shares::contact_id.eq(id))
            .count()
            .get_result(conn)?;
        let enquiries = crate::models::enquiry::count_of_contact(conn, id)?;
        let engagements = crate::models::engagement::count_of_contact(conn, id)?;
        let page_views = crate::models::journey::count_of_contact(conn, id)?;
        let name = contact.display_name();
        Ok(ContactHead {
            initials: initials(&name),
            hue: avatar_hue(contact.id),
            labels: Label::of_contact(conn, id)?,
            name,
            contact,
            changes,
            shares,
            enquiries,
            engagements,
            page_views,
            tab,
            merged_into,
        })
    }

    pub fn id(&self) -> i64 {
        self.contact.id
    }

    /// The Activity tab's count.
    pub fn activity(&self) -> i64 {
        self.enquiries + self.engagements + self.page_views
    }

    pub fn is_live(&self) -> bool {
        self.contact.deleted_at.is_none()
    }

    /// In the trash on its own, not merged away.
    pub fn in_trash(&self) -> bool {
        self.contact.deleted_at.is_some() && self.merged_into.is_none()
    }

    pub fn on(&self, tab: &str) -> bool {
        matches!(
            (tab, self.tab),
            ("profile", Tab::Profile)
                | ("activity", Tab::Activity)
                | ("sharing", Tab::Sharing)
                | ("changes", Tab::Changes)
        )
    }
}
