//! `contactbook seed-demo`: fills the directory with realistic demo colleagues so
//! that a new installation has something to look at.

use diesel::PgConnection;

use crate::{
    domain::staff::{Availability, Role},
    models::staff::{NewStaff, Staff},
};

/// (name, department, job title, time zone, phone)
const DEMO_STAFF: &[(&str, &str, &str, &str, &str)] = &[
    (
        "Amara Okafor",
        "Customer Support",
        "Support Team Lead",
        "Africa/Lagos",
        "+2348031234567",
    ),
    (
        "Benjamin Clarke",
        "Sales",
        "Account Executive",
        "Europe/London",
        "+442079460101",
    ),
    (
        "Chen Wei",
        "Customer Support",
        "Senior Support Agent",
        "Asia/Shanghai",
        "+8613812345678",
    ),
    (
        "Daniela Souza",
        "Customer Success",
        "Customer Success Manager",
        "America/Sao_Paulo",
        "+5511987654321",
    ),
    (
        "Elif Yılmaz",
        "Billing",
        "Billing Specialist",
        "Europe/Istanbul",
        "+905321234567",
    ),
    (
        "Farah Haddad",
        "Sales",
        "Sales Development Representative",
        "Asia/Dubai",
        "+971501234567",
    ),
    (
        "Gabriel Martin",
        "Customer Support",
        "Support Agent",
        "Europe/Paris",
        "+33612345678",
    ),
    (
        "Hana Sato",
        "Customer Support",
        "Support Agent",
        "Asia/Tokyo",
        "+819012345678",
    ),
    (
        "Isabel García",
        "Customer Success",
        "Onboarding Specialist",
        "Europe/Madrid",
        "+34612345678",
    ),
    (
        "James O'Connor",
        "Sales",
        "Sales Manager",
        "Europe/Dublin",
        "+353861234567",
    ),
    (
        "Kavya Nair",
        "Engineering",
        "Solutions Engineer",
        "Asia/Kolkata",
        "+919812345678",
    ),
    (
        "Liam Walker",
        "Customer Support",
        "Support Agent",
        "Australia/Sydney",
        "+61412345678",
    ),
    (
        "Mei Ling Wong",
        "Customer Support",
        "Support Team Lead",
        "Asia/Hong_Kong",
        "+85291234567",
    ),
    (
        "Nikolai Petrov",
        "Engineering",
        "Integration Engineer",
        "Europe/Berlin",
        "+4915112345678",
    ),
    (
        "Olivia Brown",
        "Operations",
        "Head of Operations",
        "America/New_York",
        "+12125550143",
    ),
    (
        "Pedro Alves",
        "Billing",
        "Billing Team Lead",
        "Europe/Lisbon",
        "+351912345678",
    ),
    (
        "Quynh Tran",
        "Customer Support",
        "Support Agent",
        "Asia/Ho_Chi_Minh",
        "+84912345678",
    ),
    (
        "Rafael Torres",
        "Sales",
        "Account Executive",
        "America/Mexico_City",
        "+525512345678",
    ),
    (
        "Sofia Rossi",
        "Customer Success",
        "Customer Success Manager",
        "Europe/Rome",
        "+393471234567",
    ),
    (
        "Tomasz Kowalski",
        "Customer Support",
        "Quality Analyst",
        "Europe/Warsaw",
        "+48601234567",
    ),
    (
        "Uma Patel",
        "Operations",
        "Workforce Planner",
        "Europe/London",
        "+447700900123",
    ),
    (
        "Victor Lindqvist",
        "Engineering",
        "Support Engineer",
        "Europe/Stockholm",
        "+46701234567",
    ),
    (
        "Wanjiru Kamau",
        "Customer Support",
        "Support Agent",
        "Africa/Nairobi",
        "+254712345678",
    ),
    (
        "Yusuf Demir",
        "Sales",
        "Partner Manager",
        "Europe/Istanbul",
        "+905331234567",
    ),
];

/// Adds the demo colleagues that are not there yet; returns how many were added.
/// They get no password: an administrator sets one to let a demo account sign in.
pub fn seed_demo_staff(conn: &mut PgConnection) -> Result<usize, diesel::result::Error> {
    use diesel::Connection;
    conn.transaction(|conn| {
        let mut added = 0;
        for (i, (name, department, title, tz, phone)) in DEMO_STAFF.iter().enumerate() {
            let email = format!(
                "{}@demo.contactbook.test",
                name.to_lowercase()
                    .chars()
                    .filter_map(|c| match c {
                        'a'..='z' => Some(c),
                        ' ' => Some('.'),
                        'ı' => Some('i'),
                        'í' => Some('i'),
                        _ => None,
                    })
                    .collect::<String>()
            );
            if Staff::find_by_email(conn, &email)?.is_some() {
                continue;
            }
            let extension = format!("{}", 201 + i);
            let availability = Availability::ALL[i % Availability::ALL.len()];
            let role = if *title == "Head of Operations" {
                Role::Admin
            } else {
                Role::Agent
            };
            let extension_taken = Staff::directory(conn, &extension)?
                .iter()
                .any(|s| s.extension.as_deref() == Some(extension.as_str()));
            Staff::insert(
                conn,
                &NewStaff {
                    email: &email,
                    display_name: name,
                    password_hash: None,
                    role: role.as_str(),
                    department,
                    job_title: title,
                    time_zone: tz,
                    extension: (!extension_taken).then_some(extension.as_str()),
                    phone: Some(phone),
                    availability: availability.as_str(),
                },
            )?;
            added += 1;
        }
        Ok(added)
    })
}
