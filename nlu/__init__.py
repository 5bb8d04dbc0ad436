"""Language understanding: Rasa-format training data, a sparse (+ optional dense) intent
classifier with calibrated confidences, entity extraction, and Rasa's /model/parse.

Entry points: `nlu.engine` (Interpreter, LocalInterpreter, RemoteRasaInterpreter),
`nlu.training_data` (read / write Rasa YAML), `nlu.training.train_model`,
`nlu.model_file` (save_model / load_model), `nlu.evaluation`, `nlu.http.parse_route`.
See docs/nlu.md.
"""
