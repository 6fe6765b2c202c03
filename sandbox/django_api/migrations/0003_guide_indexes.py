# The VeriHome guide's indexes whose names or expressions Django's Index cannot express.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("verihome", "0002_seed_properties"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX idx_messages_conversation_created ON messages (conversation_id, created_at)",
            "DROP INDEX idx_messages_conversation_created",
        ),
        migrations.RunSQL(
            "CREATE INDEX idx_properties_search ON properties "
            "USING GIN (to_tsvector('english', title || ' ' || description))",
            "DROP INDEX idx_properties_search",
        ),
    ]
