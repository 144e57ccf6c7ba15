# The customer-graph application image: the `customer-graph` command with the API, loaders and algorithms.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY graph_model ./graph_model
COPY loaders ./loaders
COPY algorithms ./algorithms
COPY api ./api
COPY customer_graph ./customer_graph
RUN pip install --no-cache-dir .
COPY data ./data
COPY cypher ./cypher
ENV PYTHONUNBUFFERED=1
# production unless told otherwise: the API then refuses to start without CUSTOMER_GRAPH_API_KEYS
ENV CUSTOMER_GRAPH_ENV=production
EXPOSE 8000
CMD ["customer-graph", "serve", "--host", "0.0.0.0", "--port", "8000"]
