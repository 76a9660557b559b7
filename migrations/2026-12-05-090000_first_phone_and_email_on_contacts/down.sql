DROP TRIGGER contact_emails_to_contacts_upd ON contact_emails;
DROP TRIGGER contact_emails_to_contacts_del ON contact_emails;
DROP TRIGGER contact_emails_to_contacts_ins ON contact_emails;
DROP TRIGGER contact_phones_to_contacts_upd ON contact_phones;
DROP TRIGGER contact_phones_to_contacts_del ON contact_phones;
DROP TRIGGER contact_phones_to_contacts_ins ON contact_phones;
DROP FUNCTION contact_emails_to_contacts();
DROP FUNCTION contact_phones_to_contacts();
ALTER TABLE contacts DROP COLUMN first_email, DROP COLUMN first_phone;
