"""One router per resource; ``serving.main.create_app`` lists them."""
