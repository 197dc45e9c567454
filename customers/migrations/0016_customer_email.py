from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0015_follow_up_superseded_marker"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="email",
            field=models.EmailField(
                blank=True,
                help_text="可选；规范化为小写，用于邮件营销（需授权）",
                max_length=254,
                verbose_name="邮箱",
            ),
        ),
    ]
