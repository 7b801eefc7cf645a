"""WTForms forms for every page that takes input."""
from flask import request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from flask_wtf.form import _Auto
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional, ValidationError

from .models import KINDS


class Form(FlaskForm):
    """A form of consult's: posted as a form, never read from a JSON body.

    Flask-WTF reads a JSON body as the form's data, whatever its shape (false, a list, numbers
    where text goes), which the fields then fail on; consult's scripts post JSON to their own
    routes only.
    """

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            if formdata is _Auto and request.is_json:
                return None
            return super().wrap_formdata(form, formdata)


class LoginForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    remember = BooleanField("Keep me signed in on this computer")


class RegisterForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=8, max=200)])
    confirm = PasswordField("Repeat the password", validators=[EqualTo("password", "The passwords differ.")])


class PasswordForm(Form):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=200)],
                            render_kw={"autocomplete": "current-password"})
    password = PasswordField("New password", validators=[DataRequired(), Length(min=8, max=200)],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("Repeat the new password", validators=[EqualTo("password", "The passwords differ.")],
                            render_kw={"autocomplete": "new-password"})


class JoinForm(Form):
    code = StringField(
        "Join code",
        validators=[DataRequired("Type the code from the big screen."), Length(max=20)],
        render_kw={"autocapitalize": "characters", "autocomplete": "off", "spellcheck": "false"},
    )


class SessionForm(Form):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    date = DateField("Date", validators=[Optional()])
    venue = StringField("Venue", validators=[Optional(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])

    def fields(self):
        """The session's own fields as entered, for services.create_session and update_session."""
        return {name: self[name].data for name in ("title", "date", "venue", "description")}


class NewSessionForm(SessionForm):
    """A new session, with where it starts from: blank, a template (starters.py) or an earlier session."""

    start = RadioField("Start from", default="blank", validate_choice=True)
    source = SelectField("Your earlier session", coerce=lambda v: int(v) if str(v).isdigit() else None,
                         validate_choice=False)

    def validate_source(self, field):
        if self.start.data == "copy" and field.data not in {value for value, _ in field.choices}:
            raise ValidationError("Choose one of your earlier sessions to copy.")


class QuestionForm(Form):
    kind = SelectField("Type", choices=[SelectChoice(value, label) for value, label in KINDS.items()])
    text = TextAreaField("Question", validators=[DataRequired(), Length(max=500)])
    # A picture for the question (pictures.py checks the file); the options' pictures are rows of their own.
    image_file = FileField("Picture file", render_kw={"accept": "image/png,image/jpeg,image/webp,image/gif"})
    image_alt = StringField("Describe the picture (alt text)", validators=[Optional(), Length(max=300)])
    remove_image = BooleanField("Remove the picture")
    options = TextAreaField(
        "Options, one per line (2 to 12)", validators=[Optional(), Length(max=5000)]
    )
    multiple = BooleanField("Allow more than one answer")
    allow_unsure = BooleanField("Offer “Not sure”")
    scale_min = IntegerField("Lowest number", default=1, validators=[Optional(), NumberRange(0, 9)])
    scale_max = IntegerField("Highest number", default=5, validators=[Optional(), NumberRange(1, 10)])
    min_label = StringField("Label for the lowest", validators=[Optional(), Length(max=60)])
    max_label = StringField("Label for the highest", validators=[Optional(), Length(max=60)])
    max_length = IntegerField(
        "Longest note, in characters", default=280, validators=[Optional(), NumberRange(1, 2000)]
    )
    rows = TextAreaField(
        "Rows: one question or theme per line", validators=[Optional(), Length(max=10000)], render_kw={"rows": 5}
    )
    horizons = TextAreaField(
        "Time horizons (columns): one per line, as “Name | hint”", validators=[Optional(), Length(max=2000)],
        render_kw={"rows": 5},
    )


class TablesForm(Form):
    tables = TextAreaField(
        "Tables: a number, or one name per line", validators=[Optional(), Length(max=5000)], render_kw={"rows": 6}
    )


class ModerationForm(Form):
    moderation = RadioField(
        "When notes show",
        choices=[
            SelectChoice("post", "At once (post-moderation): you or a table host can hide a note afterwards"),
            SelectChoice("pre", "After approval (pre-moderation): each note waits for you on the control page"),
        ],
        default="post",
    )
    blocked_words = TextAreaField(
        "Blocked words, one per line", validators=[Optional(), Length(max=10000)], render_kw={"rows": 4}
    )
